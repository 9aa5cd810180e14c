#include "services/platform/validate.h"

#include <gtest/gtest.h>

#include "services/platform/error.h"

namespace bizrelay {
namespace {

ErrorCode CodeOf(auto fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error thrown";
  return ErrorCode::kInternal;
}

TEST(ValidateTest, TextCountsCodePointsNotBytes) {
  CheckText("name", "Toko Ibu", 1, 8);
  CheckText("name", "\xc3\xa9\xc3\xa9", 2, 2);  // two 2-byte code points
  EXPECT_EQ(CodeOf([] { CheckText("name", "", 1, 10); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf([] { CheckText("name", "abcdef", 1, 5); }), ErrorCode::kInvalidArgument);
}

TEST(ValidateTest, RejectsBadUtf8AndControls) {
  EXPECT_EQ(CodeOf([] { CheckText("name", "\xff", 0, 10); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf([] { CheckText("name", "\xc0\xaf", 0, 10); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf([] { CheckText("name", "\xed\xa0\x80", 0, 10); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(CodeOf([] { CheckText("name", "a\nb", 0, 10); }), ErrorCode::kInvalidArgument);
  CheckText("body", "a\nb", 0, 10, /*multiline=*/true);
}

TEST(ValidateTest, ErrorNamesTheField) {
  try {
    CheckText("profile.display_name", "", 1, 10);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.reason(), "INVALID_FIELD");
    EXPECT_EQ(e.metadata().at("field"), "profile.display_name");
  }
}

TEST(ValidateTest, Urls) {
  CheckOptionalUrl("website", "", 10);
  CheckOptionalUrl("website", "https://toko.example", 100);
  EXPECT_EQ(CodeOf([] { CheckOptionalUrl("website", "javascript:x", 100); }),
            ErrorCode::kInvalidArgument);
}

TEST(ValidateTest, MalformedIdsLookLikeUnknownIds) {
  CheckId("business", "0b0c5a53-7a40-4d0e-9d55-1d2a3f4b5c6d");
  EXPECT_EQ(CodeOf([] { CheckId("business", "nope"); }), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf([] { CheckId("business", "0B0C5A53-7A40-4D0E-9D55-1D2A3F4B5C6D"); }),
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace bizrelay
