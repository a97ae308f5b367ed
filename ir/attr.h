// Attribute values: what an op node carries besides its inputs, in the IR and in a bundle's
// steps alike (planfmt stores them as they are).
#ifndef TENSORSHUNT_IR_ATTR_H_
#define TENSORSHUNT_IR_ATTR_H_

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace ts::ir {

// Index order is part of the .tsplan format (planfmt/format.h): int, float, string, ints, floats.
using AttrValue =
    std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>>;
using AttrMap = std::map<std::string, AttrValue>;

}  // namespace ts::ir

#endif  // TENSORSHUNT_IR_ATTR_H_
