// Reading ONNX external data, confined to the model's folder: relative paths only, no "..",
// no symbolic links on the way, the resolved file inside the folder, and offset + length within
// the file. Each file is opened once per import.
#ifndef TENSORSHUNT_FRONTEND_EXTERNAL_DATA_H_
#define TENSORSHUNT_FRONTEND_EXTERNAL_DATA_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/status.h"

namespace ts::frontend {

class ExternalDataReader {
 public:
  explicit ExternalDataReader(std::string model_dir) : model_dir_(std::move(model_dir)) {}
  ~ExternalDataReader();
  ExternalDataReader(const ExternalDataReader&) = delete;
  ExternalDataReader& operator=(const ExternalDataReader&) = delete;

  // Reads `length` bytes at `offset` of `location` (length < 0: to the end of the file).
  StatusOr<std::vector<uint8_t>> Read(const std::string& location, int64_t offset,
                                      int64_t length);

  // Opens `location` under the confinement rules above (once: later calls return the same
  // descriptor). The descriptor stays owned by the reader and is closed with it. Used by
  // readers of other formats that name files relative to a folder (safetensors shards).
  StatusOr<int> OpenConfined(const std::string& location);

 private:
  std::string model_dir_;
  std::map<std::string, int> fds_;
};

}  // namespace ts::frontend

#endif  // TENSORSHUNT_FRONTEND_EXTERNAL_DATA_H_
