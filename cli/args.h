// Parsers for command-line values that are not plain strings: memory sizes (--budget,
// --max-peak, ...) and fixed input shapes (--shape). Errors are Code::kUsage with one line that
// quotes the offending text; nothing here prints or exits.
#ifndef TENSORSHUNT_CLI_ARGS_H_
#define TENSORSHUNT_CLI_ARGS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/status.h"

namespace ts::cli {

// A size in bytes: NUMBER[UNIT]. NUMBER is decimal digits with an optional fraction ("1.5");
// no sign (a leading '+' or '-' is refused), no exponent, no hex. UNIT is case-insensitive and
// may be separated from the number by spaces: none or B (bytes), K/KB/KiB, M/MB/MiB, G/GB/GiB,
// T/TB/TiB.
//
// All units are binary by design: "G", "GB" and "GiB" all mean 2^30. Memory budgets are
// compared with device and host memory, which come in powers of two; a decimal GB would make
// "--budget 80G" on an 80 GiB GPU silently 7% smaller than the user meant.
//
// The result is exact (no floating point) and rounded down to whole bytes ("0.3" is 0,
// "1.5K" is 1536). It must not exceed 2^63 - 1.
StatusOr<uint64_t> ParseSize(std::string_view text);

// "1.5 GiB (1610612736 bytes)": the largest binary unit not above the value, with at most two
// decimals rounded down (so the text never overstates), then the exact count. Below 1 KiB
// just "100 bytes".
std::string FormatSize(uint64_t bytes);

// The value of --shape: "NAME=1x3x224x224". NAME is everything before the last '=' and must
// not be empty; dims are decimal integers >= 1 joined by a lower-case 'x', at least one, and
// their product must fit in int64.
StatusOr<std::pair<std::string, std::vector<int64_t>>> ParseShapeArg(std::string_view arg);

}  // namespace ts::cli

#endif  // TENSORSHUNT_CLI_ARGS_H_
