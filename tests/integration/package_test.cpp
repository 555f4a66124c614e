// The .deb that `cpack -G DEB` makes from this build holds what a platform team installs: the
// stripped binary that runs, the systemd unit, the demo it hands over to, example plans and
// the docs; it depends on the libraries the binary links and makes the user cutover runs as.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/child_process.h"
#include "fixtures/temporary_directory.h"

namespace cutover::testing {
namespace {

struct Ran {
  int code;
  std::string output;
};
Ran run(const std::vector<std::string>& argv, const TemporaryDirectory& work) {
  ChildProcess child(argv, work.path());
  const int code = child.wait(std::chrono::seconds(300)).value_or(-1);
  return {code, child.standard_output() + child.standard_error()};
}

TEST(Package, TheDebHoldsTheStrippedBinaryTheUnitAndExamplesAndRuns) {
  TemporaryDirectory work{"cutover-package"};
  const auto made = run({"cpack", "-G", "DEB", "-B", work.path() + "/out", "--config",
                         CUTOVER_BUILD_DIR "/CPackConfig.cmake"},
                        work);
  ASSERT_EQ(made.code, 0) << made.output;
  std::string deb;
  for (const auto& entry : std::filesystem::directory_iterator(work.path() + "/out")) {
    if (entry.path().extension() == ".deb") deb = entry.path();
  }
  ASSERT_FALSE(deb.empty()) << made.output;

  const auto listed = run({"dpkg-deb", "-c", deb}, work);
  ASSERT_EQ(listed.code, 0) << listed.output;
  for (const char* path : {"./usr/bin/cutover", "./usr/lib/systemd/system/cutover@.service", "./usr/share/cutover/demo",
                           "./usr/share/bash-completion/completions/cutover",
                           "./usr/share/doc/cutover/examples/int-to-bigint.yaml",
                           "./usr/share/doc/cutover/troubleshooting.md"}) {
    EXPECT_NE(listed.output.find(std::string(path) + "\n"), std::string::npos) << path << "\n" << listed.output;
  }
  const auto depends = run({"dpkg-deb", "-f", deb, "Depends"}, work);
  EXPECT_NE(depends.output.find("libpq5"), std::string::npos) << depends.output;
  EXPECT_NE(depends.output.find("librdkafka"), std::string::npos) << depends.output;
  EXPECT_NE(depends.output.find("adduser"), std::string::npos) << depends.output;
  const auto postinst = run({"dpkg-deb", "-I", deb, "postinst"}, work);
  EXPECT_NE(postinst.output.find("adduser --system --group"), std::string::npos) << postinst.output;

  const std::string root = work.path() + "/root";
  ASSERT_EQ(run({"dpkg-deb", "-x", deb, root}, work).code, 0);
  const auto sections = run({"readelf", "-S", root + "/usr/bin/cutover"}, work);
  EXPECT_EQ(sections.output.find(".symtab"), std::string::npos) << "the binary is not stripped";
  EXPECT_EQ(sections.output.find(".debug_info"), std::string::npos) << "the binary carries debug information";
  const auto version = run({root + "/usr/bin/cutover", "--version"}, work);
  EXPECT_EQ(version.code, 0) << version.output;
  EXPECT_EQ(version.output.rfind("cutover 0.1.0 (commit ", 0), 0u) << version.output;
  // systemd itself reads the unit as an instance would be started, with ExecStart pointed at
  // the packaged binary (this machine has none at /usr/bin): no error, no warning.
  std::ifstream shipped(root + "/usr/lib/systemd/system/cutover@.service");
  std::stringstream unit_text;
  unit_text << shipped.rdbuf();
  std::string unit = unit_text.str();
  const std::string exec = "ExecStart=/usr/bin/cutover ";
  ASSERT_NE(unit.find(exec), std::string::npos) << unit;
  unit.replace(unit.find(exec), exec.size(), "ExecStart=" + root + "/usr/bin/cutover ");
  std::filesystem::create_directories(work.path() + "/units");
  std::ofstream(work.path() + "/units/cutover@demo.service") << unit;
  const auto verified = run({"systemd-analyze", "verify", "--man=no", work.path() + "/units/cutover@demo.service"}, work);
  EXPECT_EQ(verified.code, 0) << verified.output;
  EXPECT_EQ(verified.output, "") << verified.output;
  // bash loads the packaged completion and binds it to cutover.
  const auto completion = run({"bash", "--norc", "-c",
                               "source " + root + "/usr/share/bash-completion/completions/cutover && complete -p cutover"},
                              work);
  EXPECT_NE(completion.output.find("-F _cutover cutover"), std::string::npos) << completion.output;
  std::cout << "[ MEASURED ] packaged binary: " << std::filesystem::file_size(root + "/usr/bin/cutover") / 1024
            << " KiB stripped, from " << std::filesystem::file_size(CUTOVER_BINARY) / 1024 << " KiB\n";
}

}  // namespace
}  // namespace cutover::testing
