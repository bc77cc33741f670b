// The content store's resumable ingest: what an interrupted stream leaves, how the next ingest
// resumes it (or starts over when the source cannot), and that a wrong blob is never kept.
#include "core/image/content.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "core/image/digest.hpp"
#include "core/sys/error.hpp"
#include "tests/unit/temp_dir.hpp"

namespace kiln::image {
namespace {

using kiln::testing::TempDir;

struct Source {
    std::string data;
    std::size_t fail_after = std::string::npos;  // throw once this many bytes were read
    bool honour_offset = true;
    std::vector<std::uint64_t> asked;  // the offsets the store asked for

    ContentStore::OpenFn opener() {
        return [this](std::uint64_t offset, bool* resumed) -> ReadFn {
            asked.push_back(offset);
            *resumed = honour_offset && offset > 0;
            auto pos = std::make_shared<std::size_t>(*resumed ? offset : 0);
            return [this, pos](char* buf, std::size_t len) -> std::size_t {
                if (*pos >= fail_after) throw Error(Errc::internal, "connection reset");
                std::size_t n = std::min({len, data.size() - *pos, fail_after - *pos});
                std::copy_n(data.data() + *pos, n, buf);
                *pos += n;
                return n;
            };
        };
    }
};

class ContentTest : public ::testing::Test {
protected:
    ContentTest() : store_(tmp_ / "content") {
        for (int i = 0; i < 600000; ++i) src_.data += static_cast<char>('a' + i * 7 % 26);
        desc_.digest = sha256_of(src_.data);
        desc_.size = src_.data.size();
        desc_.media_type = "application/octet-stream";
    }
    std::string partial() const { return tmp_ / "content" + "/ingest/" + desc_.digest.substr(7) + ".partial"; }
    static std::int64_t size_of(const std::string& path) {
        struct stat st{};
        return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
    }

    TempDir tmp_;
    ContentStore store_;
    Source src_;
    Descriptor desc_;
};

TEST_F(ContentTest, AnInterruptedIngestResumesFromWhatItKept) {
    src_.fail_after = 300000;
    EXPECT_THROW(store_.ingest_resumable(desc_, src_.opener(), "layer"), Error);
    EXPECT_FALSE(store_.has(desc_.digest));
    EXPECT_EQ(store_.partial_size(desc_.digest), 300000u);

    src_.fail_after = std::string::npos;
    std::vector<std::uint64_t> progress;
    store_.ingest_resumable(desc_, src_.opener(), "layer", [&](std::uint64_t n) { progress.push_back(n); });
    EXPECT_TRUE(store_.has(desc_.digest));
    EXPECT_EQ(src_.asked, (std::vector<std::uint64_t>{0, 300000}));
    ASSERT_FALSE(progress.empty());
    EXPECT_EQ(progress.front(), 300000u) << "the kept bytes count first";
    EXPECT_EQ(progress.back(), desc_.size);
    EXPECT_EQ(size_of(partial()), -1) << "the partial file became the blob";
    EXPECT_EQ(sha256_of(store_.read(desc_.digest, 1 << 20, "layer")), desc_.digest);
}

TEST_F(ContentTest, ASourceThatCannotResumeStartsOver) {
    src_.fail_after = 100000;
    EXPECT_THROW(store_.ingest_resumable(desc_, src_.opener(), "layer"), Error);
    src_.fail_after = std::string::npos;
    src_.honour_offset = false;
    store_.ingest_resumable(desc_, src_.opener(), "layer");
    EXPECT_TRUE(store_.has(desc_.digest));
    EXPECT_EQ(sha256_of(store_.read(desc_.digest, 1 << 20, "layer")), desc_.digest);
}

TEST_F(ContentTest, AWrongBlobIsDroppedWholeEvenWhenResumed) {
    src_.fail_after = 200000;
    EXPECT_THROW(store_.ingest_resumable(desc_, src_.opener(), "layer"), Error);
    src_.fail_after = std::string::npos;
    src_.data[500000] ^= 1;  // the rest differs from what the digest promises
    try {
        store_.ingest_resumable(desc_, src_.opener(), "layer");
        FAIL() << "a wrong blob was stored";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find("layer " + desc_.digest), std::string::npos) << e.what();
    }
    EXPECT_FALSE(store_.has(desc_.digest));
    EXPECT_EQ(store_.partial_size(desc_.digest), 0u);

    // A source longer than the descriptor says is cut off at the stated size.
    src_.data[500000] ^= 1;
    src_.data += "extra";
    EXPECT_THROW(store_.ingest_resumable(desc_, src_.opener(), "layer"), Error);
    EXPECT_EQ(store_.partial_size(desc_.digest), 0u);
}

TEST_F(ContentTest, PartialsSurviveARestartUntilPruned) {
    src_.fail_after = 1000;
    EXPECT_THROW(store_.ingest_resumable(desc_, src_.opener(), "layer"), Error);
    ContentStore again(tmp_ / "content");
    again.clear_ingests();
    EXPECT_EQ(again.partial_size(desc_.digest), 1000u);
    std::uint64_t count = 0;
    EXPECT_EQ(again.remove_partials(&count), 1000u);
    EXPECT_EQ(count, 1u);
    EXPECT_EQ(again.partial_size(desc_.digest), 0u);
}

}  // namespace
}  // namespace kiln::image
