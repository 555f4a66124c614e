// What was built: the version in CMakeLists.txt and the commit (cmake/build_info.cmake).
#pragma once

#include <string>

namespace cutover {

std::string cutover_version();
// The commit's short hash, with -dirty when the tree differed from it; "unknown" without git.
std::string cutover_commit();

}  // namespace cutover
