#include "frontend/external_data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

namespace ts::frontend {
namespace {

Status Refuse(const std::string& location, const std::string& why) {
  return BadInputError("external data '" + location + "': " + why +
                       "; keep external data files inside the model's folder, named relatively");
}

}  // namespace

ExternalDataReader::~ExternalDataReader() {
  for (auto& [path, fd] : fds_) close(fd);
}

StatusOr<int> ExternalDataReader::OpenConfined(const std::string& location) {
  if (auto it = fds_.find(location); it != fds_.end()) return it->second;
  if (model_dir_.empty()) return Refuse(location, "the model was not read from a folder");
  if (location.empty()) return Refuse(location, "empty path");
  if (location.size() > 4096) return Refuse(location.substr(0, 64) + "...", "path too long");
  if (location.find('\0') != std::string::npos) return Refuse(location, "NUL byte in path");
  if (location[0] == '/') return Refuse(location, "absolute paths are not allowed");
  // Walk the components: no "..", no symbolic links anywhere below the model folder.
  std::string walked = model_dir_;
  size_t start = 0;
  while (start <= location.size()) {
    size_t end = location.find('/', start);
    if (end == std::string::npos) end = location.size();
    std::string part = location.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return Refuse(location, "'..' is not allowed");
    walked += "/" + part;
    struct stat st;
    if (lstat(walked.c_str(), &st) != 0) return ErrnoError(errno, "external data '" + walked + "'");
    if (S_ISLNK(st.st_mode)) return Refuse(location, "symbolic links are not allowed");
  }
  char dir_real[PATH_MAX], file_real[PATH_MAX];
  if (!realpath(model_dir_.c_str(), dir_real)) return ErrnoError(errno, "model folder '" + model_dir_ + "'");
  if (!realpath(walked.c_str(), file_real)) return ErrnoError(errno, "external data '" + walked + "'");
  std::string dir_prefix = std::string(dir_real) + "/";
  if (std::string(file_real).rfind(dir_prefix, 0) != 0) {
    return Refuse(location, "resolves outside the model's folder");
  }
  int fd = open(file_real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return ErrnoError(errno, "external data '" + walked + "'");
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Refuse(location, "not a regular file");
  }
  fds_.emplace(location, fd);
  return fd;
}

StatusOr<std::vector<uint8_t>> ExternalDataReader::Read(const std::string& location,
                                                         int64_t offset, int64_t length) {
  ASSIGN_OR_RETURN(int fd, OpenConfined(location));
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError(errno, "external data '" + location + "'");
  const int64_t file_size = st.st_size;
  if (offset < 0 || offset > file_size) {
    return Refuse(location, "offset " + std::to_string(offset) + " is past the end of the file (" +
                                std::to_string(file_size) + " bytes)");
  }
  if (length < 0) length = file_size - offset;
  int64_t end;
  if (__builtin_add_overflow(offset, length, &end) || end > file_size) {
    return Refuse(location, "offset " + std::to_string(offset) + " + length " +
                                std::to_string(length) + " exceeds the file size " +
                                std::to_string(file_size));
  }
  std::vector<uint8_t> out(static_cast<size_t>(length));
  int64_t done = 0;
  while (done < length) {
    ssize_t n = pread(fd, out.data() + done, static_cast<size_t>(length - done), offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "reading external data '" + location + "'");
    if (n == 0) return IoError("external data '" + location + "' shrank while being read");
    done += n;
  }
  return out;
}

}  // namespace ts::frontend
