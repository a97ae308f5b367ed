// Status and StatusOr<T>: the error model used by every library in TensorShunt.
//
// Library code never aborts, exits or prints: it returns a Status. A Status is one pointer
// wide and free when OK; an error carries a Code (which cli/ maps to an exit code) and a
// one-line message of the form "where: what; how to fix". Context is added on the way up with
// Annotate() or RETURN_IF_ERROR_CTX, producing "outer: inner".
#ifndef TENSORSHUNT_IR_STATUS_H_
#define TENSORSHUNT_IR_STATUS_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ts {

enum class Code : int {
  kOk = 0,
  kCheckFailed,   // a requested check failed: mismatch, regression, peak over --max-peak
  kUsage,         // bad command-line argument or option value
  kBadInput,      // malformed or unsupported model, bundle or input file
  kDoesNotFit,    // the plan does not fit the budget, or memory could not be had
  kIo,            // the operating system refused a read, write or open
  kInternal,      // a bug in TensorShunt
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message);

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  const std::string& message() const;

  // Returns this status with "context: " prepended to its message (no-op when OK).
  Status Annotate(std::string_view context) const&;
  Status Annotate(std::string_view context) &&;

  std::string ToString() const;

 private:
  struct Rep {
    Code code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

inline Status OkStatus() { return Status(); }
Status UsageError(std::string message);
Status BadInputError(std::string message);
Status DoesNotFitError(std::string message);
Status IoError(std::string message);
Status InternalError(std::string message);
Status CheckFailedError(std::string message);
// Converts an errno value at the boundary: "what: strerror (errno N)".
Status ErrnoError(int err, std::string_view what);

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design
  StatusOr(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? OkStatus() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace ts

#define TS_CONCAT_INNER(a, b) a##b
#define TS_CONCAT(a, b) TS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                   \
  do {                                          \
    ::ts::Status ts_status_ = (expr);           \
    if (!ts_status_.ok()) return ts_status_;    \
  } while (0)

#define RETURN_IF_ERROR_CTX(expr, context)                          \
  do {                                                              \
    ::ts::Status ts_status_ = (expr);                               \
    if (!ts_status_.ok()) return ts_status_.Annotate(context);      \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(TS_CONCAT(ts_statusor_, __LINE__), lhs, expr)

#endif  // TENSORSHUNT_IR_STATUS_H_
