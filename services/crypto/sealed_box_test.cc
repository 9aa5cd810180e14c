#include "services/crypto/sealed_box.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

#include "services/platform/error.h"
#include "services/platform/token.h"

namespace bizrelay::crypto {
namespace {

std::string Hex(std::string_view hex) {
  std::string bytes;
  if (!FromHex(hex, &bytes)) throw std::invalid_argument("bad hex in test vector");
  return bytes;
}

template <typename F>
std::string ReasonOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.reason();
  }
  return "no error";
}

// RFC 7748 section 6.1.
constexpr std::string_view kAlicePrivate =
    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
constexpr std::string_view kAlicePublic =
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
constexpr std::string_view kBobPrivate =
    "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
constexpr std::string_view kBobPublic =
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
constexpr std::string_view kSharedSecret =
    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

TEST(X25519Test, DerivesRfc7748PublicKeys) {
  EXPECT_EQ(ToHex(X25519PublicKey(Hex(kAlicePrivate))), kAlicePublic);
  EXPECT_EQ(ToHex(X25519PublicKey(Hex(kBobPrivate))), kBobPublic);
}

TEST(X25519Test, AgreesOnRfc7748SharedSecret) {
  EXPECT_EQ(ToHex(X25519Agree(Hex(kAlicePrivate), Hex(kBobPublic))), kSharedSecret);
  EXPECT_EQ(ToHex(X25519Agree(Hex(kBobPrivate), Hex(kAlicePublic))), kSharedSecret);
}

TEST(X25519Test, GeneratedPairsAgree) {
  KeyPair a = GenerateX25519KeyPair();
  KeyPair b = GenerateX25519KeyPair();
  EXPECT_EQ(a.private_key.size(), kX25519KeyBytes);
  EXPECT_EQ(a.public_key, X25519PublicKey(a.private_key));
  EXPECT_NE(a.public_key, b.public_key);
  EXPECT_EQ(X25519Agree(a.private_key, b.public_key), X25519Agree(b.private_key, a.public_key));
}

TEST(X25519Test, RejectsSmallOrderPeerAndWrongSizes) {
  // u = 0 and u = 1 are points of small order: the shared secret would be all zero.
  std::string zero(32, '\0');
  std::string one(32, '\0');
  one[0] = 1;
  EXPECT_EQ(ReasonOf([&] { X25519Agree(Hex(kAlicePrivate), zero); }), "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { X25519Agree(Hex(kAlicePrivate), one); }), "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { X25519Agree(Hex(kAlicePrivate), Hex(kBobPublic).substr(1)); }),
            "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { X25519Agree(Hex(kAlicePrivate).substr(1), Hex(kBobPublic)); }),
            "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { X25519PublicKey(""); }), "INVALID_KEY");
}

TEST(HkdfTest, Rfc5869TestCase1) {
  std::string okm = HkdfSha256(std::string(22, '\x0b'), Hex("000102030405060708090a0b0c"),
                               Hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  EXPECT_EQ(ToHex(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(HkdfTest, RejectsOutOfRangeInput) {
  EXPECT_EQ(ReasonOf([] { HkdfSha256("", "salt", "info", 32); }), "INVALID_HKDF_INPUT");
  EXPECT_EQ(ReasonOf([] { HkdfSha256("ikm", "salt", "info", 0); }), "INVALID_HKDF_INPUT");
  EXPECT_EQ(ReasonOf([] { HkdfSha256("ikm", "salt", "info", 255 * 32 + 1); }),
            "INVALID_HKDF_INPUT");
  EXPECT_EQ(ReasonOf([] { HkdfSha256("ikm", "salt", std::string(1025, 'i'), 32); }),
            "INVALID_HKDF_INPUT");
  EXPECT_EQ(HkdfSha256("ikm", "salt", "info", 255 * 32).size(), 255u * 32);
}

TEST(Ed25519Test, Rfc8032Test1) {
  std::string secret = Hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  std::string expected_public =
      Hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  std::string expected_sig = Hex(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
      "b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_EQ(Ed25519PublicKey(secret), expected_public);
  EXPECT_EQ(Ed25519Sign(secret, ""), expected_sig);
  EXPECT_TRUE(Ed25519Verify(expected_public, "", expected_sig));
  EXPECT_FALSE(Ed25519Verify(expected_public, "x", expected_sig));
}

TEST(Ed25519Test, SignedPrekeyVerifiesOnlyUnderItsIdentity) {
  KeyPair identity = GenerateEd25519KeyPair();
  KeyPair other = GenerateEd25519KeyPair();
  KeyPair prekey = GenerateX25519KeyPair();
  std::string sig = Ed25519Sign(identity.private_key, prekey.public_key);
  EXPECT_TRUE(Ed25519Verify(identity.public_key, prekey.public_key, sig));
  EXPECT_FALSE(Ed25519Verify(other.public_key, prekey.public_key, sig));
  for (size_t i = 0; i < sig.size(); ++i) {
    std::string bad = sig;
    bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
    EXPECT_FALSE(Ed25519Verify(identity.public_key, prekey.public_key, bad)) << i;
  }
  EXPECT_FALSE(Ed25519Verify(identity.public_key, prekey.public_key, sig.substr(1)));
  EXPECT_FALSE(Ed25519Verify("", prekey.public_key, sig));
  EXPECT_EQ(ReasonOf([&] { Ed25519Sign("short", "m"); }), "INVALID_KEY");
}

TEST(AesGcmTest, McGrewViegaTestCase16) {
  std::string key = Hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  std::string nonce = Hex("cafebabefacedbaddecaf888");
  std::string aad = Hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  std::string plaintext =
      Hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
          "49a6b5"
          "25b16aedf5aa0de657ba637b39");
  std::string sealed = Aes256GcmSeal(key, nonce, aad, plaintext);
  EXPECT_EQ(
      ToHex(sealed),
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10568"
      "28838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");
  EXPECT_EQ(Aes256GcmOpen(key, nonce, aad, sealed), plaintext);
}

TEST(AesGcmTest, RoundTripAndTamperDetection) {
  std::string key = RandomBytes(kAes256GcmKeyBytes);
  std::string nonce = RandomBytes(kAes256GcmNonceBytes);
  for (std::string plaintext : {std::string(), std::string("x"), std::string(1000, 'p')}) {
    std::string sealed = Aes256GcmSeal(key, nonce, "aad", plaintext);
    ASSERT_EQ(sealed.size(), plaintext.size() + kAes256GcmTagBytes);
    EXPECT_EQ(Aes256GcmOpen(key, nonce, "aad", sealed), plaintext);
    EXPECT_EQ(Aes256GcmOpen(key, nonce, "aad!", sealed), std::nullopt);
    EXPECT_EQ(Aes256GcmOpen(RandomBytes(32), nonce, "aad", sealed), std::nullopt);
    EXPECT_EQ(Aes256GcmOpen(key, RandomBytes(12), "aad", sealed), std::nullopt);
    EXPECT_EQ(Aes256GcmOpen(key, nonce, "aad", sealed.substr(1)), std::nullopt);
    for (size_t i = 0; i < sealed.size(); ++i) {
      std::string bad = sealed;
      bad[i] = static_cast<char>(bad[i] ^ 0x80);
      ASSERT_EQ(Aes256GcmOpen(key, nonce, "aad", bad), std::nullopt) << i;
    }
  }
  EXPECT_EQ(Aes256GcmOpen(key, nonce, "", ""), std::nullopt);
  EXPECT_EQ(ReasonOf([&] { Aes256GcmSeal(key.substr(1), nonce, "", "p"); }), "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { Aes256GcmSeal(key, nonce + "x", "", "p"); }), "INVALID_KEY");
}

class SealedBoxTest : public ::testing::Test {
 protected:
  KeyPair recipient_ = GenerateX25519KeyPair();
  KeyPair sender_ = GenerateEd25519KeyPair();
};

TEST_F(SealedBoxTest, RoundTripRevealsSenderOnlyToRecipient) {
  std::string envelope = Seal(recipient_.public_key, sender_.private_key, "hello, friend");
  EXPECT_EQ(envelope.size(), kSealedBoxOverheadBytes + 13);
  EXPECT_EQ(static_cast<uint8_t>(envelope[0]), kSealedBoxVersion);
  // What the relay stores contains neither the plaintext nor the sender's identity.
  EXPECT_EQ(envelope.find("hello, friend"), std::string::npos);
  EXPECT_EQ(envelope.find(sender_.public_key), std::string::npos);
  EXPECT_EQ(envelope.find(recipient_.public_key), std::string::npos);

  OpenedMessage opened = Open(recipient_.private_key, envelope);
  EXPECT_EQ(opened.plaintext, "hello, friend");
  EXPECT_EQ(opened.sender_identity_key, sender_.public_key);
}

TEST_F(SealedBoxTest, EmptyAndLargePlaintextsRoundTrip) {
  EXPECT_EQ(
      Open(recipient_.private_key, Seal(recipient_.public_key, sender_.private_key, "")).plaintext,
      "");
  std::string big = RandomBytes(1 << 20);
  EXPECT_EQ(
      Open(recipient_.private_key, Seal(recipient_.public_key, sender_.private_key, big)).plaintext,
      big);
}

TEST_F(SealedBoxTest, SealingTwiceGivesUnlinkableEnvelopes) {
  std::set<std::string> headers;
  std::set<std::string> envelopes;
  for (int i = 0; i < 10; ++i) {
    std::string e = Seal(recipient_.public_key, sender_.private_key, "same");
    headers.insert(e.substr(0, kSealedBoxHeaderBytes));
    envelopes.insert(e);
  }
  EXPECT_EQ(headers.size(), 10u);
  EXPECT_EQ(envelopes.size(), 10u);
}

TEST_F(SealedBoxTest, FlippingAnyBitMakesOpenFail) {
  std::string envelope = Seal(recipient_.public_key, sender_.private_key, "attack at dawn");
  ASSERT_EQ(Open(recipient_.private_key, envelope).plaintext, "attack at dawn");
  // Every bit of header (version, ephemeral key), ciphertext and tag.
  for (size_t i = 0; i < envelope.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = envelope;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      ASSERT_EQ(ReasonOf([&] { Open(recipient_.private_key, bad); }), "SEALED_BOX_INVALID")
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(SealedBoxTest, TruncatedOrExtendedEnvelopesFail) {
  std::string envelope = Seal(recipient_.public_key, sender_.private_key, "m");
  for (size_t len = 0; len < envelope.size(); ++len) {
    ASSERT_EQ(ReasonOf([&] { Open(recipient_.private_key, envelope.substr(0, len)); }),
              "SEALED_BOX_INVALID")
        << len;
  }
  EXPECT_EQ(ReasonOf([&] { Open(recipient_.private_key, envelope + '\0'); }), "SEALED_BOX_INVALID");
}

TEST_F(SealedBoxTest, WrongRecipientCannotOpen) {
  std::string envelope = Seal(recipient_.public_key, sender_.private_key, "for you only");
  KeyPair eve = GenerateX25519KeyPair();
  EXPECT_EQ(ReasonOf([&] { Open(eve.private_key, envelope); }), "SEALED_BOX_INVALID");
}

TEST_F(SealedBoxTest, SmallOrderKeysAreRefused) {
  std::string zero(32, '\0');
  EXPECT_EQ(ReasonOf([&] { Seal(zero, sender_.private_key, "m"); }), "INVALID_KEY");
  // An envelope whose ephemeral key is of small order fails like any other bad envelope.
  std::string envelope = Seal(recipient_.public_key, sender_.private_key, "m");
  envelope.replace(1, kX25519KeyBytes, zero);
  EXPECT_EQ(ReasonOf([&] { Open(recipient_.private_key, envelope); }), "SEALED_BOX_INVALID");
}

TEST_F(SealedBoxTest, MalformedKeysAreRefused) {
  EXPECT_EQ(ReasonOf([&] { Seal("short", sender_.private_key, "m"); }), "INVALID_KEY");
  EXPECT_EQ(ReasonOf([&] { Seal(recipient_.public_key, "short", "m"); }), "INVALID_KEY");
  std::string envelope = Seal(recipient_.public_key, sender_.private_key, "m");
  EXPECT_EQ(ReasonOf([&] { Open("short", envelope); }), "INVALID_KEY");
}

// Builds an envelope by hand following the format documented in sealed_box.h, so that the
// sender signature can be chosen freely.
std::string HandSealed(std::string_view recipient_public, std::string_view sender_public,
                       std::string_view signature, std::string_view plaintext,
                       const KeyPair& ephemeral) {
  std::string header(1, static_cast<char>(kSealedBoxVersion));
  header += ephemeral.public_key;
  std::string keys = HkdfSha256(
      X25519Agree(ephemeral.private_key, recipient_public), "",
      std::string("bizrelay/sealed-box/v1") + ephemeral.public_key + std::string(recipient_public),
      kAes256GcmKeyBytes + kAes256GcmNonceBytes);
  std::string inner = std::string(sender_public) + std::string(signature) + std::string(plaintext);
  return header + Aes256GcmSeal(keys.substr(0, 32), keys.substr(32), header, inner);
}

std::string SignedPart(std::string_view recipient_public, std::string_view ephemeral_public,
                       std::string_view plaintext) {
  return std::string("bizrelay/sealed-box/v1/sender") + std::string(recipient_public) +
         std::string(ephemeral_public) + std::string(plaintext);
}

TEST_F(SealedBoxTest, HandBuiltEnvelopeWithHonestSignatureOpens) {
  // Control for the forgery tests below: the hand-built format is the real one.
  KeyPair eph = GenerateX25519KeyPair();
  std::string sig =
      Ed25519Sign(sender_.private_key, SignedPart(recipient_.public_key, eph.public_key, "hi"));
  OpenedMessage opened =
      Open(recipient_.private_key,
           HandSealed(recipient_.public_key, sender_.public_key, sig, "hi", eph));
  EXPECT_EQ(opened.plaintext, "hi");
  EXPECT_EQ(opened.sender_identity_key, sender_.public_key);
}

TEST_F(SealedBoxTest, ForgedSenderSignatureFails) {
  KeyPair eph = GenerateX25519KeyPair();
  KeyPair mallory = GenerateEd25519KeyPair();
  // Mallory claims to be the sender but can only sign with her own key.
  std::string forged =
      Ed25519Sign(mallory.private_key, SignedPart(recipient_.public_key, eph.public_key, "hi"));
  EXPECT_EQ(ReasonOf([&] {
              Open(recipient_.private_key,
                   HandSealed(recipient_.public_key, sender_.public_key, forged, "hi", eph));
            }),
            "SEALED_BOX_INVALID");
  // A garbage signature.
  EXPECT_EQ(ReasonOf([&] {
              Open(recipient_.private_key,
                   HandSealed(recipient_.public_key, sender_.public_key,
                              std::string(kEd25519SignatureBytes, '\x42'), "hi", eph));
            }),
            "SEALED_BOX_INVALID");
  // The sender's genuine signature, but over a different plaintext.
  std::string other_text =
      Ed25519Sign(sender_.private_key, SignedPart(recipient_.public_key, eph.public_key, "bye"));
  EXPECT_EQ(ReasonOf([&] {
              Open(recipient_.private_key,
                   HandSealed(recipient_.public_key, sender_.public_key, other_text, "hi", eph));
            }),
            "SEALED_BOX_INVALID");
}

TEST_F(SealedBoxTest, RecipientCannotReSealAMessageToSomeoneElse) {
  // Bob opens a message Alice sealed to him, then re-seals its inner part (Alice's key and
  // signature) to Carol, hoping Carol believes Alice wrote to her.
  KeyPair eph = GenerateX25519KeyPair();
  std::string alice_sig =
      Ed25519Sign(sender_.private_key, SignedPart(recipient_.public_key, eph.public_key, "hi"));
  KeyPair carol = GenerateX25519KeyPair();
  KeyPair bob_eph = GenerateX25519KeyPair();
  EXPECT_EQ(ReasonOf([&] {
              Open(carol.private_key,
                   HandSealed(carol.public_key, sender_.public_key, alice_sig, "hi", bob_eph));
            }),
            "SEALED_BOX_INVALID");
  // Even reusing the original ephemeral key does not help: the recipient is signed.
  EXPECT_EQ(ReasonOf([&] {
              Open(carol.private_key,
                   HandSealed(carol.public_key, sender_.public_key, alice_sig, "hi", eph));
            }),
            "SEALED_BOX_INVALID");
}

}  // namespace
}  // namespace bizrelay::crypto
