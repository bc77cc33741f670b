// The container log: JSON lines per stream, partial lines, bytes that are not UTF-8, rotation.
#include "core/monitor/log_writer.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/unit/temp_dir.hpp"

namespace kiln::monitor {
namespace {

std::vector<nlohmann::json> entries(const std::string& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> out;
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
    return out;
}

TEST(LogWriter, WholeLinesPerStream) {
    testing::TempDir t;
    std::string path = t.path() + "/log.json";
    {
        LogWriter w(path, 1 << 20, 3);
        w.write("stdout", "one\ntw");
        w.write("stderr", "err\n");
        w.write("stdout", "o\nthree");
        w.flush();
    }
    auto e = entries(path);
    ASSERT_EQ(e.size(), 4u);
    EXPECT_EQ(e[0]["stream"], "stdout");
    EXPECT_EQ(e[0]["text"], "one");
    EXPECT_EQ(e[1]["stream"], "stderr");
    EXPECT_EQ(e[1]["text"], "err");
    EXPECT_EQ(e[2]["text"], "two") << "a line split across writes is one entry";
    EXPECT_EQ(e[3]["text"], "three");
    EXPECT_EQ(e[3]["partial"], true) << "flushed without its newline";
    EXPECT_FALSE(e[0].contains("partial"));
    EXPECT_EQ(e[0]["time"].get<std::string>().back(), 'Z');
}

TEST(LogWriter, InvalidUtf8IsReplacedNotLost) {
    testing::TempDir t;
    std::string path = t.path() + "/log.json";
    {
        LogWriter w(path, 1 << 20, 3);
        w.write("stdout", std::string("a\xff" "b\n"));
    }
    auto e = entries(path);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0]["text"], "a\xEF\xBF\xBD" "b");
}

TEST(LogWriter, LongLinesAreSplitIntoPartialEntries) {
    testing::TempDir t;
    std::string path = t.path() + "/log.json";
    {
        LogWriter w(path, 1 << 20, 3);
        w.write("stdout", std::string(40000, 'x') + "\n");
    }
    auto e = entries(path);
    ASSERT_GE(e.size(), 2u);
    std::string joined;
    for (const auto& x : e) joined += x["text"].get<std::string>();
    EXPECT_EQ(joined, std::string(40000, 'x'));
    EXPECT_EQ(e.front()["partial"], true);
    EXPECT_FALSE(e.back().contains("partial"));
}

TEST(LogWriter, RotatesBySizeKeepingMaxFiles) {
    testing::TempDir t;
    std::string path = t.path() + "/log.json";
    {
        LogWriter w(path, 400, 3);
        for (int i = 0; i < 40; ++i) w.write("stdout", "line " + std::to_string(i) + "\n");
    }
    namespace fs = std::filesystem;
    EXPECT_TRUE(fs::exists(path));
    EXPECT_TRUE(fs::exists(path + ".1"));
    EXPECT_TRUE(fs::exists(path + ".2"));
    EXPECT_FALSE(fs::exists(path + ".3")) << "max_files counts the current file";
    for (const auto& p : {path, path + ".1", path + ".2"}) EXPECT_LE(fs::file_size(p), 400u) << p;
    // The newest lines are in the current file, in order across the rotated ones.
    auto cur = entries(path), prev = entries(path + ".1");
    EXPECT_EQ(cur.back()["text"], "line 39");
    auto n = [](const nlohmann::json& j) { return std::stoi(j["text"].get<std::string>().substr(5)); };
    EXPECT_EQ(n(prev.back()) + 1, n(cur.front()));
}

TEST(LogWriter, AppendsToAnExistingLog) {
    testing::TempDir t;
    std::string path = t.path() + "/log.json";
    { LogWriter(path, 1 << 20, 3).write("stdout", "first\n"); }
    { LogWriter(path, 1 << 20, 3).write("stdout", "second\n"); }
    auto e = entries(path);
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[1]["text"], "second");
}

}  // namespace
}  // namespace kiln::monitor
