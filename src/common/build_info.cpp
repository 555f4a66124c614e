#include "cutover/common/build_info.h"

#include "cutover_build_info.h"  // generated into the build tree

namespace cutover {

std::string cutover_version() { return CUTOVER_VERSION; }
std::string cutover_commit() { return CUTOVER_COMMIT; }

}  // namespace cutover
