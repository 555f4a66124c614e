// The Dockerfile builds cutover in one build type. The suite is built the same way, with
// warnings as errors (scripts/test), so that a warning only that build's optimiser reports
// (GCC 12's -Wrestrict at -O3 was one) fails CI rather than `docker compose build`.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <string>

namespace cutover {
namespace {

TEST(Build, TheSuiteIsBuiltTheWayTheDockerfileBuildsCutover) {
  std::ifstream dockerfile(CUTOVER_SOURCE_DIR "/Dockerfile");
  ASSERT_TRUE(dockerfile) << CUTOVER_SOURCE_DIR "/Dockerfile";
  const std::string text((std::istreambuf_iterator<char>(dockerfile)), std::istreambuf_iterator<char>());
  std::smatch match;
  ASSERT_TRUE(std::regex_search(text, match, std::regex("cmake -S [^\\n]*-DCMAKE_BUILD_TYPE=(\\w+)")))
      << "the Dockerfile's cmake line names no build type";
  EXPECT_EQ(match[1].str(), CUTOVER_BUILD_TYPE) << "scripts/test must build as the Dockerfile does";
  EXPECT_TRUE(CUTOVER_WARNINGS_WERE_ERRORS) << "scripts/test builds with -DCUTOVER_WARNINGS_AS_ERRORS=ON";
}

}  // namespace
}  // namespace cutover
