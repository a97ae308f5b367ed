// What tsc and tsr share: the mapping from Status to exit code (the only place it happens),
// one-line error output, and CLI11 set-up.
#ifndef TENSORSHUNT_CLI_COMMON_H_
#define TENSORSHUNT_CLI_COMMON_H_

#include <string>

#include <CLI/CLI.hpp>

#include "ir/dtype.h"
#include "ir/status.h"

namespace ts::cli {

// Exit codes (DESIGN.md section 6), also printed by --help.
inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitBadInput = 3;
inline constexpr int kExitDoesNotFit = 4;
inline constexpr int kExitIo = 5;
inline constexpr int kExitInternal = 70;

int ExitCodeFor(Code code);

// `text` made safe to print as one line: control bytes, the C1 controls (U+0080..U+009F) and
// the Unicode line separators (U+2028, U+2029) become \xNN escapes. Messages echo hostile input (names, arguments).
std::string OneLine(std::string_view text);

// Prints "TOOL: error: MESSAGE" on one line to stderr and returns the exit code.
int ReportError(const char* tool, const Status& status);

// The --help footer listing exit codes.
std::string ExitCodeHelp();

// Parses argv with CLI11. Returns -1 to continue, or the exit code to return now (help: 0;
// usage errors: 2 with CLI11's message on one line).
int ParseArgs(CLI::App& app, int argc, char** argv);

// Writes `text` to `path` (replacing it); `what` names the file in the error ("--trace", ...).
Status WriteTextFile(const std::string& path, std::string_view text, std::string_view what);

// XXH3-64 of a file's bytes, as 16 hex digits.
StatusOr<std::string> HashFile(const std::string& path);

}  // namespace ts::cli

#endif  // TENSORSHUNT_CLI_COMMON_H_
