#include "services/media/media_rules.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "services/media/content_type.h"
#include "services/platform/error.h"

namespace bizrelay::media {
namespace {

std::string Pdf() {
  return "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
         "2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
         "trailer\n<< /Root 1 0 R >>\n%%EOF\n";
}

std::string Png() {
  // Signature and the IHDR chunk of a 1x1 RGBA image.
  return std::string(
      "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01"
      "\x08\x06\x00\x00\x00\x1f\x15\xc4\x89",
      33);
}

std::string ReasonOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.reason();
  }
  return "";
}

TEST(MediaRulesTest, KindsFollowTheTypeFamily) {
  EXPECT_EQ(KindOf("image/png"), MediaKind::kImage);
  EXPECT_EQ(KindOf("audio/mpeg"), MediaKind::kAudio);
  EXPECT_EQ(KindOf("video/mp4"), MediaKind::kVideo);
  EXPECT_EQ(KindOf("application/pdf"), MediaKind::kDocument);
  EXPECT_EQ(KindOf("text/plain"), MediaKind::kDocument);
}

TEST(MediaRulesTest, DeclarationsOutsideTheAllowlistOrLimitsAreRefused) {
  MediaOptions options;
  EXPECT_EQ(CheckDeclaration(options, "application/pdf", 100), MediaKind::kDocument);
  EXPECT_EQ(ReasonOf([&] { CheckDeclaration(options, "application/x-msdownload", 100); }),
            "MEDIA_TYPE_NOT_ALLOWED");
  EXPECT_EQ(ReasonOf([&] { CheckDeclaration(options, "image/png", 0); }), "INVALID_FIELD");
  EXPECT_EQ(ReasonOf([&] { CheckDeclaration(options, "image/png", (5 << 20) + 1); }),
            "MEDIA_TOO_LARGE");
  EXPECT_EQ(CheckDeclaration(options, "image/png", 5 << 20), MediaKind::kImage);
  EXPECT_EQ(CheckDeclaration(options, "application/pdf", 100 << 20), MediaKind::kDocument);
  options.allowed_types = {"image/png"};
  EXPECT_EQ(ReasonOf([&] { CheckDeclaration(options, "application/pdf", 100); }),
            "MEDIA_TYPE_NOT_ALLOWED");
}

TEST(ContentTypeTest, LibmagicReadsTheBytesNotTheDeclaration) {
  EXPECT_EQ(DetectMimeType(Pdf()), "application/pdf");
  EXPECT_EQ(DetectMimeType(Png()), "image/png");
  EXPECT_EQ(DetectMimeType("Halo, kue bolu masih ada?\nTerima kasih.\n"), "text/plain");
  EXPECT_NO_THROW(CheckContentType("application/pdf", Pdf()));
  EXPECT_NO_THROW(CheckContentType("image/png", Png()));
  EXPECT_NO_THROW(CheckContentType("text/csv", "a,b\n1,2\n"));
}

TEST(ContentTypeTest, ContentThatContradictsItsTypeIsRefusedWithBothTypes) {
  try {
    CheckContentType("image/png", Pdf());
    FAIL() << "a PDF passed as a PNG";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(e.reason(), "MEDIA_TYPE_MISMATCH");
    EXPECT_EQ(e.metadata().at("declared"), "image/png");
    EXPECT_EQ(e.metadata().at("detected"), "application/pdf");
  }
  EXPECT_EQ(ReasonOf([&] { CheckContentType("application/pdf", std::string(4096, '\x07')); }),
            "MEDIA_TYPE_MISMATCH");
  EXPECT_EQ(ReasonOf([&] { CheckContentType("text/plain", Png()); }), "MEDIA_TYPE_MISMATCH");
}

TEST(ContentTypeTest, ALongTextCutInsideACharacterIsStillText) {
  std::string text;
  while (text.size() < kSniffBytes + 10) text += "Kue bolu \xC3\xA9\xC3\xA9 ";
  // Make the sniff window end inside a two-byte character.
  std::string head = text.substr(0, kSniffBytes - 1);
  head += "\xC3\xA9 more";
  EXPECT_NO_THROW(CheckContentType("text/plain", head));
}

}  // namespace
}  // namespace bizrelay::media
