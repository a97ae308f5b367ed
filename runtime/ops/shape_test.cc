// Tests for the family come with its ops.
#include <gtest/gtest.h>
