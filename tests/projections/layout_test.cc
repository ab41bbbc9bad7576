// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/layout.h"

#include "gtest/gtest.h"

namespace rb::proj {
namespace {

TEST(LayoutTest, ViewSpaceNameMatchesTheHeaderExample) {
  GenerationId gen{.version = 2, .generation = 7};
  EXPECT_EQ(ViewSpaceName("site_counts", gen, "by_category"), "view.site_counts.v2.g7.by_category");
}

TEST(LayoutTest, ParseViewSpaceNameRecoversTheGeneration) {
  std::optional<GenerationId> gen =
      ParseViewSpaceName("site_counts", "view.site_counts.v2.g7.by_category");
  ASSERT_TRUE(gen.has_value());
  EXPECT_EQ(*gen, (GenerationId{2, 7}));
}

TEST(LayoutTest, ParseViewSpaceNameRejectsOtherProjectionsAndMalformedNames) {
  EXPECT_FALSE(ParseViewSpaceName("site", "view.site_counts.v2.g7.x").has_value());
  EXPECT_FALSE(ParseViewSpaceName("site_counts", "projections.meta").has_value());
  EXPECT_FALSE(ParseViewSpaceName("site_counts", "view.site_counts.vx.g7.x").has_value());
  EXPECT_FALSE(ParseViewSpaceName("site_counts", "view.site_counts.v2.7.x").has_value());
  EXPECT_FALSE(ParseViewSpaceName("site_counts", "view.site_counts.v2").has_value());
}

TEST(LayoutTest, NamesAllowOnlyLowerCaseDigitsAndUnderscore) {
  EXPECT_TRUE(ValidateName("name", "site_counts_2").ok());
  EXPECT_EQ(ValidateName("name", "").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateName("name", "Sites").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateName("name", "a.b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateName("name", std::string(65, 'a')).code(), absl::StatusCode::kInvalidArgument);
}

TEST(LayoutTest, CheckpointKeysSortByGeneration) {
  EXPECT_EQ(CheckpointKey("p", 7), "checkpoint/p/00000000000000000007");
  EXPECT_LT(CheckpointKey("p", 9), CheckpointKey("p", 10));
}

TEST(LayoutTest, RecordsRoundTrip) {
  GenerationId gen{.version = 3, .generation = 1ull << 40};
  EXPECT_EQ(EncodeGeneration(gen).size(), 13u);
  EXPECT_EQ(*DecodeGeneration(EncodeGeneration(gen)), gen);
  Checkpoint cp{.position = 123456789, .recorded_at_us = 1'700'000'000'000'000};
  EXPECT_EQ(EncodeCheckpoint(cp).size(), 17u);
  EXPECT_EQ(*DecodeCheckpoint(EncodeCheckpoint(cp)), cp);
  EXPECT_EQ(*DecodeCounter(EncodeCounter(42)), 42u);
}

TEST(LayoutTest, DecodingAMalformedRecordIsDataLoss) {
  EXPECT_EQ(DecodeGeneration("short").status().code(), absl::StatusCode::kDataLoss);
  std::string cp = EncodeCheckpoint({1, 2});
  cp[0] = 2;  // unknown format byte
  EXPECT_EQ(DecodeCheckpoint(cp).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeCounter("").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace rb::proj
