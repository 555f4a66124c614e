#include "cutover/common/durable_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace cutover {
namespace {

class DurableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cutover-durable.XXXXXX";
    directory_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  static std::string read(const std::string& path) {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

  std::string directory_;
};

// A temporary planted as a link to another file: cutover neither writes through it nor gives
// the victim another owner or mode.
TEST_F(DurableFileTest, APlantedLinkAtTheTemporaryNameIsNeverFollowed) {
  const std::string victim = directory_ + "/victim";
  std::ofstream(victim) << "precious\n";
  ::chmod(victim.c_str(), 0644);
  const std::string state = directory_ + "/cutover.json";
  std::filesystem::create_symlink(victim, state + ".tmp");
  ASSERT_TRUE(write_file_atomically(state, "{}\n"));
  EXPECT_EQ(read(victim), "precious\n");
  struct stat victim_stat {};
  ASSERT_EQ(::stat(victim.c_str(), &victim_stat), 0);
  EXPECT_EQ(victim_stat.st_mode & 07777, 0644u);
  EXPECT_EQ(read(state), "{}\n");
  EXPECT_FALSE(std::filesystem::is_symlink(state));
}

TEST_F(DurableFileTest, ALinkInPlaceOfTheFileIsRefused) {
  const std::string victim = directory_ + "/victim";
  std::ofstream(victim) << "precious\n";
  const std::string state = directory_ + "/cutover.json";
  std::filesystem::create_symlink(victim, state);
  const Status written = write_file_atomically(state, "{}\n");
  ASSERT_FALSE(written);
  EXPECT_NE(written.message().find("is a symbolic link"), std::string::npos) << written.message();
  EXPECT_EQ(read(victim), "precious\n");
}

TEST_F(DurableFileTest, AStateDirectoryOthersMayWriteOrThatIsNotADirectoryIsRefused) {
  EXPECT_EQ(state_directory_problem(directory_ + "/not-yet"), std::nullopt);
  ASSERT_TRUE(ensure_state_directory(directory_ + "/made"));
  struct stat made {};
  ASSERT_EQ(::stat((directory_ + "/made").c_str(), &made), 0);
  EXPECT_EQ(made.st_mode & 0777, 0700u);

  const std::string shared = directory_ + "/shared";
  std::filesystem::create_directory(shared);
  ::chmod(shared.c_str(), 01777);
  const auto writable = state_directory_problem(shared);
  ASSERT_TRUE(writable);
  EXPECT_NE(writable->find("may be written by other users"), std::string::npos) << *writable;
  EXPECT_FALSE(ensure_state_directory(shared));

  const std::string file = directory_ + "/file";
  std::ofstream(file) << "x";
  ASSERT_TRUE(state_directory_problem(file));
  EXPECT_NE(state_directory_problem(file)->find("is not a directory"), std::string::npos);
  ASSERT_TRUE(state_directory_problem("/"));

  if (::geteuid() == 0) {
    const std::string foreign = directory_ + "/foreign";
    std::filesystem::create_directory(foreign);
    ASSERT_EQ(::chown(foreign.c_str(), 65534, 65534), 0);
    ASSERT_TRUE(state_directory_problem(foreign));
    EXPECT_NE(state_directory_problem(foreign)->find("belongs to user id 65534"), std::string::npos);
  }
}

}  // namespace
}  // namespace cutover
