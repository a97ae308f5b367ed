#include "cli/common.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <vector>

#include <xxhash.h>

namespace ts::cli {

int ExitCodeFor(Code code) {
  switch (code) {
    case Code::kOk: return kExitOk;
    case Code::kCheckFailed: return kExitCheckFailed;
    case Code::kUsage: return kExitUsage;
    case Code::kBadInput: return kExitBadInput;
    case Code::kDoesNotFit: return kExitDoesNotFit;
    case Code::kIo: return kExitIo;
    case Code::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto escape = [&](unsigned char c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      escape(c);
    } else if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      // The C1 controls U+0080..U+009F (NEL among them), which terminals also act on.
      escape(c);
      escape(static_cast<unsigned char>(text[i + 1]));
      ++i;
    } else if (c == 0xe2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(text[i + 2]) == 0xa8 ||
                static_cast<unsigned char>(text[i + 2]) == 0xa9)) {
      for (int k = 0; k < 3; ++k) escape(static_cast<unsigned char>(text[i + k]));
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

int ReportError(const char* tool, const Status& status) {
  std::fprintf(stderr, "%s: error: %s\n", tool, OneLine(status.message()).c_str());
  return ExitCodeFor(status.code());
}

std::string ExitCodeHelp() {
  return "Exit codes: 0 ok; 1 a check failed (mismatch, peak over --max-peak); 2 usage; "
         "3 bad model or bundle; 4 does not fit / out of memory; 5 I/O; 70 internal error.";
}

int ParseArgs(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    // Subcommand help is raised through the parent: let CLI11 print it.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "%s: error: %s; see --help\n", app.get_name().c_str(), OneLine(e.what()).c_str());
    return kExitUsage;
  }
  return -1;
}

Status WriteTextFile(const std::string& path, std::string_view text, std::string_view what) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.close();
  if (!f) {
    return IoError("writing " + std::string(what) + " '" + path +
                   "' failed; check the folder exists and is writable");
  }
  return OkStatus();
}

StatusOr<std::string> HashFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "opening '" + path + "'");
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      XXH3_freeState(state);
      return ErrnoError(err, "reading '" + path + "'");
    }
    if (n == 0) break;
    XXH3_64bits_update(state, buf.data(), static_cast<size_t>(n));
  }
  close(fd);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits_digest(state)));
  XXH3_freeState(state);
  return std::string(hex);
}

}  // namespace ts::cli
