#include "ir/status.h"

#include <cstring>

namespace ts {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kCheckFailed: return "check failed";
    case Code::kUsage: return "usage error";
    case Code::kBadInput: return "bad input";
    case Code::kDoesNotFit: return "does not fit";
    case Code::kIo: return "I/O error";
    case Code::kInternal: return "internal error";
  }
  return "unknown";
}

Status::Status(Code code, std::string message) {
  if (code != Code::kOk) rep_ = std::make_shared<const Rep>(Rep{code, std::move(message)});
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->message : kEmpty;
}

Status Status::Annotate(std::string_view context) const& {
  if (ok()) return *this;
  return Status(code(), std::string(context) + ": " + message());
}

Status Status::Annotate(std::string_view context) && {
  if (ok()) return std::move(*this);
  return Status(code(), std::string(context) + ": " + message());
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code())) + ": " + message();
}

Status UsageError(std::string m) { return Status(Code::kUsage, std::move(m)); }
Status BadInputError(std::string m) { return Status(Code::kBadInput, std::move(m)); }
Status DoesNotFitError(std::string m) { return Status(Code::kDoesNotFit, std::move(m)); }
Status IoError(std::string m) { return Status(Code::kIo, std::move(m)); }
Status InternalError(std::string m) { return Status(Code::kInternal, std::move(m)); }
Status CheckFailedError(std::string m) { return Status(Code::kCheckFailed, std::move(m)); }

Status ErrnoError(int err, std::string_view what) {
  return IoError(std::string(what) + ": " + std::strerror(err) + " (errno " +
                 std::to_string(err) + ")");
}

}  // namespace ts
