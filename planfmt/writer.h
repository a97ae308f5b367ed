// Writing .tsplan bundles (byte layout in planfmt/format.h).
//
// The writer validates the plan with ValidateContents before producing any byte, so tsc never
// writes a bundle tsr would refuse; such a failure is Code::kInternal (a compiler bug).
// Output is deterministic: the same contents and weight bytes give the same file, byte for byte.
#ifndef TENSORSHUNT_PLANFMT_WRITER_H_
#define TENSORSHUNT_PLANFMT_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ir/status.h"
#include "planfmt/plan.h"

namespace ts::planfmt {

// The bytes of one weight; blobs are parallel to PlanContents::weights. Not owned.
struct WeightBlob {
  const uint8_t* data = nullptr;
  uint64_t bytes = 0;
};

// Lays the weights out in the given order at 4096-aligned offsets of the weights section
// (filling contents.weights[i].file_offset, .bytes and .checksum) and returns the whole
// bundle. With a prefill program, prefill_blobs are parallel to contents.prefill->weights: each
// shares the bytes of an earlier weight with the same content, or is laid after them.
StatusOr<std::vector<uint8_t>> SerializeBundle(PlanContents& contents,
                                               const std::vector<WeightBlob>& blobs,
                                               const std::vector<WeightBlob>& prefill_blobs = {});

// Same, written to `path` atomically: PATH.tmp.<pid> is written, fsynced and renamed over PATH,
// so a failure never leaves a partial bundle at PATH. Weights are streamed from the blobs, not
// copied into one buffer.
Status WriteBundle(const std::string& path, PlanContents& contents,
                   const std::vector<WeightBlob>& blobs, const std::vector<WeightBlob>& prefill_blobs = {});

}  // namespace ts::planfmt

#endif  // TENSORSHUNT_PLANFMT_WRITER_H_
