// The personal relay against a real PostgreSQL, connected as the personal database role.
#include "services/personal/personal_relay.h"

#include <gtest/gtest.h>

#include "services/crypto/blind_rsa.h"
#include "services/crypto/sealed_box.h"
#include "services/personal/personal_sweeper.h"
#include "services/platform/error.h"
#include "services/platform/token.h"
#include "services/store/migrator.h"
#include "services/store/testing/test_postgres.h"

namespace bizrelay::personal {
namespace {

// One issuer key for the whole binary: generating RSA keys is slow.
const crypto::BlindRsaPrivateKey& Issuer() {
  static const auto* key =
      new crypto::BlindRsaPrivateKey(crypto::BlindRsaPrivateKey::Generate(2048));
  return *key;
}

SendTokenInput MintToken(const crypto::BlindRsaPrivateKey& issuer = Issuer()) {
  const auto& pub = issuer.public_key();
  auto blinded = pub.Blind(RandomBytes(32), crypto::BlindRsaVariant::kSha384PssRandomized);
  auto sig = pub.Finalize(issuer.BlindSign(blinded.blinded_msg), blinded.inv, blinded.prepared_msg);
  return {blinded.prepared_msg, sig, crypto::BlindRsaKeyId(pub)};
}

std::string ErrorReason(auto fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.reason();
  }
  return "no error";
}

class PersonalRelayTest : public ::testing::Test {
 protected:
  PersonalRelayTest() : admin_url_(store::testing::FreshDatabase()) {
    pqxx::connection admin(admin_url_);
    store::ApplySchema(admin);
    personal_url_ = admin_url_ + " user=bizrelay_personal";
    hosting_url_ = admin_url_ + " user=bizrelay_hosting";
    conn_ = std::make_unique<pqxx::connection>(personal_url_);
  }

  static PersonalOptions TestOptions() {
    PersonalOptions o;
    o.max_mailbox_depth = 3;
    o.max_envelope_bytes = 1024;
    return o;
  }

  PersonalRelay::Created NewMailbox(const std::string& access) {
    pqxx::work tx(*conn_);
    auto created = relay_.CreateMailbox(tx, MintToken(), access);
    tx.commit();
    return created;
  }

  PublishedKeys Keys(int prekeys) {
    auto identity = crypto::GenerateEd25519KeyPair();
    auto signed_prekey = crypto::GenerateX25519KeyPair();
    PublishedKeys k{identity.public_key,
                    signed_prekey.public_key,
                    crypto::Ed25519Sign(identity.private_key, signed_prekey.public_key),
                    1,
                    {}};
    for (int i = 0; i < prekeys; ++i) {
      k.one_time_prekeys.push_back({i + 1, crypto::GenerateX25519KeyPair().public_key});
    }
    return k;
  }

  std::string admin_url_, personal_url_, hosting_url_;
  std::unique_ptr<pqxx::connection> conn_;
  PersonalOptions options_ = TestOptions();
  SendTokenVerifier verifier_{Issuer().public_key()};
  RateLimiter limiter_{1000, 1000};
  PersonalRelay relay_{options_, &verifier_, &limiter_};
};

TEST_F(PersonalRelayTest, EachRoleIsDeniedTheOtherPathByTheDatabase) {
  pqxx::connection hosting(hosting_url_);
  for (const char* sql :
       {"SELECT count(*) FROM personal.envelopes", "SELECT count(*) FROM personal.mailboxes",
        "SELECT count(*) FROM personal.spent_tokens"}) {
    pqxx::nontransaction tx(hosting);
    EXPECT_THROW(tx.exec(sql), pqxx::insufficient_privilege) << sql;
  }
  for (const char* sql :
       {"SELECT count(*) FROM core.users", "SELECT count(*) FROM core.credentials",
        "SELECT count(*) FROM hosting.messages"}) {
    pqxx::nontransaction tx(*conn_);
    EXPECT_THROW(tx.exec(sql), pqxx::insufficient_privilege) << sql;
  }
  // Each role does reach its own path.
  pqxx::nontransaction own(hosting);
  EXPECT_NO_THROW(own.exec("SELECT count(*) FROM hosting.messages"));
}

TEST_F(PersonalRelayTest, TokensAreSpentOnceAndMustBeTheIssuers) {
  SendTokenInput token = MintToken();
  {
    pqxx::work tx(*conn_);
    relay_.CreateMailbox(tx, token, RandomBytes(32));
    tx.commit();
  }
  EXPECT_EQ(ErrorReason([&] {
              pqxx::work tx(*conn_);
              relay_.CreateMailbox(tx, token, RandomBytes(32));
            }),
            "TOKEN_SPENT");
  SendTokenInput forged = MintToken();
  forged.signature[10] ^= 1;
  EXPECT_EQ(ErrorReason([&] { relay_.CheckToken(forged); }), "INVALID_TOKEN");
  auto other_issuer = crypto::BlindRsaPrivateKey::Generate(2048);
  EXPECT_EQ(ErrorReason([&] { relay_.CheckToken(MintToken(other_issuer)); }), "INVALID_TOKEN");
  // Only the token's hash is kept.
  pqxx::nontransaction tx(*conn_);
  auto row = tx.exec1("SELECT encode(token_hash, 'hex') FROM personal.spent_tokens");
  EXPECT_EQ(row[0].as<std::string>(), ToHex(Sha256(token.message)));
}

TEST_F(PersonalRelayTest, KeysArePublishedSignedAndConsumedOnFetch) {
  std::string access = RandomBytes(32);
  auto box = NewMailbox(access);
  PublishedKeys keys = Keys(2);
  PublishedKeys bad = keys;
  bad.signed_prekey_signature[0] ^= 1;
  pqxx::work tx(*conn_);
  EXPECT_EQ(ErrorReason([&] { relay_.PublishKeys(tx, box.mailbox_id, bad); }),
            "BAD_PREKEY_SIGNATURE");
  EXPECT_EQ(relay_.PublishKeys(tx, box.mailbox_id, keys), 2);
  PublishedKeys other = Keys(0);
  EXPECT_EQ(ErrorReason([&] { relay_.PublishKeys(tx, box.mailbox_id, other); }),
            "IDENTITY_KEY_FIXED");
  auto first = relay_.FetchBundle(tx, box.mailbox_id, access);
  auto second = relay_.FetchBundle(tx, box.mailbox_id, access);
  auto third = relay_.FetchBundle(tx, box.mailbox_id, access);
  ASSERT_TRUE(first.one_time_prekey && second.one_time_prekey);
  EXPECT_NE(first.one_time_prekey->id, second.one_time_prekey->id);
  EXPECT_FALSE(third.one_time_prekey.has_value());
  EXPECT_EQ(third.identity_key, keys.identity_key);
  EXPECT_EQ(relay_.PrekeyCount(tx, box.mailbox_id), 0);
}

TEST_F(PersonalRelayTest, WrongAccessKeyLooksExactlyLikeAnUnknownMailbox) {
  std::string access = RandomBytes(32);
  auto box = NewMailbox(access);
  auto message = [&](const std::string& id, const std::string& key) {
    try {
      pqxx::work tx(*conn_);
      relay_.SendSealed(tx, {id, key, "ciphertext", MintToken()});
    } catch (const Error& e) {
      return std::to_string(static_cast<int>(e.code())) + e.reason() + e.what();
    }
    return std::string("sent");
  };
  std::string wrong = message(box.mailbox_id, RandomBytes(32));
  EXPECT_EQ(wrong, message("00000000-0000-4000-8000-000000000000", access));
  EXPECT_EQ(wrong, message("garbage", access));
  EXPECT_NE(wrong.find("NOT_FOUND"), std::string::npos);
  EXPECT_EQ(message(box.mailbox_id, access), "sent");
  // Once the relay holds the mailbox's key, a wrong key is still answered the same way.
  EXPECT_EQ(message(box.mailbox_id, RandomBytes(32)), wrong);
  EXPECT_EQ(message(box.mailbox_id, access), "sent");
}

TEST_F(PersonalRelayTest, AMailboxDeletedThroughAnotherRelayIsRefusedByOneThatHeldItsKey) {
  std::string access = RandomBytes(32);
  auto box = NewMailbox(access);
  PersonalRelay other(options_, &verifier_, &limiter_);  // another instance
  pqxx::nontransaction tx(*conn_);
  relay_.SendSealed(tx, {box.mailbox_id, access, "before", MintToken()});
  other.DeleteMailbox(tx, box.mailbox_id);
  for (int i = 0; i < 2; ++i) {
    SendTokenInput token = MintToken();
    EXPECT_EQ(ErrorReason([&] {
                relay_.SendSealed(tx, {box.mailbox_id, access, "after", token});
              }),
              "NOT_FOUND");
    EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM personal.spent_tokens WHERE token_hash = $1",
                              pqxx::binarystring(Sha256(token.message)))[0]
                  .as<int>(),
              0);
  }
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM personal.envelopes")[0].as<int>(), 0);
}

TEST_F(PersonalRelayTest, EnvelopesHoldOnlyMailboxOrderCiphertextAndExpiryDay) {
  std::string access = RandomBytes(32);
  auto box = NewMailbox(access);
  {
    pqxx::work tx(*conn_);
    relay_.SendSealed(tx, {box.mailbox_id, access, "opaque-1", MintToken()});
    relay_.SendSealed(tx, {box.mailbox_id, access, "opaque-2", MintToken()});
    tx.commit();
  }
  pqxx::nontransaction tx(*conn_);
  auto columns = tx.exec(
      "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns "
      "WHERE table_schema = 'personal' AND table_name = 'envelopes'");
  EXPECT_EQ(columns[0][0].as<std::string>(), "ciphertext,expires_day,mailbox_id,seq");
  auto mailbox_columns = tx.exec(
      "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns "
      "WHERE table_schema = 'personal' AND table_name = 'mailboxes'");
  for (const char* forbidden : {"created", "user", "owner_id", "ip", "time"}) {
    EXPECT_EQ(mailbox_columns[0][0].as<std::string>().find(forbidden), std::string::npos)
        << forbidden;
  }
  auto rows = PersonalRepository::Envelopes(tx, box.mailbox_id, 0, 10);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_LT(rows[0].seq, rows[1].seq);
}

// Envelopes carry no foreign key (they are only written under their mailbox's lock); deleting
// a mailbox must still take its envelopes along, and nobody else's.
TEST_F(PersonalRelayTest, DeletingAMailboxTakesItsEnvelopesAlong) {
  std::string access = RandomBytes(32);
  auto gone = NewMailbox(access);
  auto kept = NewMailbox(access);
  {
    pqxx::work tx(*conn_);
    for (const auto* box : {&gone, &kept}) {
      relay_.SendSealed(tx, {box->mailbox_id, access, "opaque-1", MintToken()});
      relay_.SendSealed(tx, {box->mailbox_id, access, "opaque-2", MintToken()});
    }
    PersonalRepository::DeleteMailbox(tx, gone.mailbox_id);
    tx.commit();
  }
  pqxx::nontransaction tx(*conn_);
  EXPECT_TRUE(PersonalRepository::Envelopes(tx, gone.mailbox_id, 0, 10).empty());
  EXPECT_EQ(PersonalRepository::Envelopes(tx, kept.mailbox_id, 0, 10).size(), 2u);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM personal.envelopes")[0].as<int>(), 2);
}

TEST_F(PersonalRelayTest, LimitsOnSizeDepthAndRate) {
  std::string access = RandomBytes(32);
  auto box = NewMailbox(access);
  EXPECT_EQ(ErrorReason([&] { relay_.CheckEnvelope(std::string(1025, 'x')); }),
            "ENVELOPE_TOO_LARGE");
  for (int i = 0; i < 3; ++i) {
    pqxx::work tx(*conn_);
    relay_.SendSealed(tx, {box.mailbox_id, access, "x", MintToken()});
    tx.commit();
  }
  SendTokenInput token = MintToken();
  EXPECT_EQ(ErrorReason([&] {
              pqxx::work tx(*conn_);
              relay_.SendSealed(tx, {box.mailbox_id, access, "x", token});
            }),
            "MAILBOX_FULL");
  {
    // A refused send does not spend its token.
    pqxx::work tx(*conn_);
    EXPECT_EQ(relay_.Acknowledge(tx, box.mailbox_id, 2), 2);
    relay_.SendSealed(tx, {box.mailbox_id, access, "x", token});
    tx.commit();
  }
  RateLimiter tight(1.0 / 60, 1);
  PersonalRelay slow(options_, &verifier_, &tight);
  pqxx::work tx(*conn_);
  slow.SendSealed(tx, {box.mailbox_id, access, "x", MintToken()});
  EXPECT_EQ(ErrorReason([&] {
              slow.SendSealed(tx, {box.mailbox_id, access, "x", MintToken()});
            }),
            "RATE_LIMITED");
}

TEST_F(PersonalRelayTest, ABatchRefusesEachSendOnItsOwnAndKeepsItsOrder) {
  std::string access_a = RandomBytes(32), access_b = RandomBytes(32);
  auto a = NewMailbox(access_a);
  auto b = NewMailbox(access_b);
  SendTokenInput spent_before = MintToken();
  {
    pqxx::work tx(*conn_);
    relay_.SendSealed(tx, {b.mailbox_id, access_b, "earlier", spent_before});
    tx.commit();
  }
  SendTokenInput t1 = MintToken(), full = MintToken();
  std::vector<SealedSend> batch = {
      {a.mailbox_id, access_a, "a-1", t1},
      {a.mailbox_id, RandomBytes(32), "wrong key", MintToken()},
      {a.mailbox_id, access_a, "same token again", t1},
      {b.mailbox_id, access_b, "b-1", MintToken()},
      {a.mailbox_id, access_a, "a-2", MintToken()},
      {b.mailbox_id, access_b, "spent before", spent_before},
      {a.mailbox_id, access_a, "a-3", MintToken()},
      {a.mailbox_id, access_a, "a-4 does not fit", full},
      {"not-a-mailbox", access_a, "garbage id", MintToken()},
  };
  std::vector<SendOutcome> out;
  {
    pqxx::work tx(*conn_);
    out = relay_.SendSealed(tx, batch);
    tx.commit();
  }
  std::vector<std::string> reasons;
  for (const auto& o : out) reasons.push_back(o ? o->reason() : "stored");
  EXPECT_EQ(reasons,
            (std::vector<std::string>{"stored", "NOT_FOUND", "TOKEN_SPENT", "stored", "stored",
                                      "TOKEN_SPENT", "stored", "MAILBOX_FULL", "NOT_FOUND"}));
  pqxx::work tx(*conn_);
  std::vector<std::string> held_a;
  int64_t last = 0;
  for (const auto& e : PersonalRepository::Envelopes(tx, a.mailbox_id, 0, 10)) {
    EXPECT_GT(e.seq, last);
    last = e.seq;
    held_a.push_back(e.ciphertext);
  }
  EXPECT_EQ(held_a, (std::vector<std::string>{"a-1", "a-2", "a-3"}));
  EXPECT_EQ(PersonalRepository::Envelopes(tx, b.mailbox_id, 0, 10).size(), 2u);
  // The refused send did not spend its token: it goes through once there is room.
  EXPECT_EQ(relay_.Acknowledge(tx, a.mailbox_id, last), 3);
  relay_.SendSealed(tx, {a.mailbox_id, access_a, "a-4", full});
  EXPECT_EQ(PersonalRepository::Envelopes(tx, a.mailbox_id, 0, 10).at(0).seq, last + 1);
}

TEST_F(PersonalRelayTest, MailboxDepthIsExactEvenWithGapsInTheNumbering) {
  // Envelopes normally go oldest first, so their numbering bounds the depth; a gap (as after
  // a shorter expiry was configured) must not make a mailbox look fuller than it is.
  std::string access = RandomBytes(32);
  auto box = NewMailbox(access);
  pqxx::nontransaction tx(*conn_);
  for (int i = 0; i < 3; ++i) relay_.SendSealed(tx, {box.mailbox_id, access, "x", MintToken()});
  EXPECT_EQ(ErrorReason([&] {
              relay_.SendSealed(tx, {box.mailbox_id, access, "x", MintToken()});
            }),
            "MAILBOX_FULL");
  tx.exec_params0("DELETE FROM personal.envelopes WHERE mailbox_id = $1::uuid AND seq = 2",
                  box.mailbox_id);
  relay_.SendSealed(tx, {box.mailbox_id, access, "fits in the gap", MintToken()});
  EXPECT_EQ(ErrorReason([&] {
              relay_.SendSealed(tx, {box.mailbox_id, access, "x", MintToken()});
            }),
            "MAILBOX_FULL");
  EXPECT_EQ(PersonalRepository::Envelopes(tx, box.mailbox_id, 0, 10).size(), 3u);
}

TEST_F(PersonalRelayTest, MailboxDepthStaysExactAcrossAcknowledgedRounds) {
  // The mailbox row bounds its depth by numbering alone; acknowledgements leave that bound
  // behind, and sends must still see the room they free, round after round.
  std::string access = RandomBytes(32);
  auto box = NewMailbox(access);
  pqxx::nontransaction tx(*conn_);
  int64_t last = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 3; ++i) relay_.SendSealed(tx, {box.mailbox_id, access, "x", MintToken()});
    EXPECT_EQ(ErrorReason([&] {
                relay_.SendSealed(tx, {box.mailbox_id, access, "x", MintToken()});
              }),
              "MAILBOX_FULL")
        << "round " << round;
    auto held = PersonalRepository::Envelopes(tx, box.mailbox_id, last, 10);
    ASSERT_EQ(held.size(), 3u) << "round " << round;
    last = held.back().seq;
    // Acknowledging part of the mailbox frees exactly that much room.
    EXPECT_EQ(relay_.Acknowledge(tx, box.mailbox_id, held[0].seq), 1);
    relay_.SendSealed(tx, {box.mailbox_id, access, "x", MintToken()});
    last += 1;
    EXPECT_EQ(ErrorReason([&] {
                relay_.SendSealed(tx, {box.mailbox_id, access, "x", MintToken()});
              }),
              "MAILBOX_FULL")
        << "round " << round;
    EXPECT_EQ(relay_.Acknowledge(tx, box.mailbox_id, last), 3);
  }
}

TEST_F(PersonalRelayTest, ASendToAMailboxDeletedMeanwhileIsRefusedAndSpendsNoToken) {
  // The writers read access keys and store a batch in separate statements; a mailbox deleted
  // between the two gets outcome "gone", keeps its token unspent and stores nothing.
  std::string access = RandomBytes(32);
  auto gone = NewMailbox(access);
  auto kept = NewMailbox(access);
  pqxx::nontransaction tx(*conn_);
  PersonalRepository::DeleteMailbox(tx, gone.mailbox_id);
  std::string gone_token = Sha256("gone-token"), kept_token = Sha256("kept-token");
  auto outcomes = PersonalRepository::PostEnvelopes(
      tx,
      {{gone.mailbox_id, gone_token, "key", "to the deleted mailbox"},
       {kept.mailbox_id, kept_token, "key", "to the kept mailbox"}},
      30, 10);
  EXPECT_EQ(outcomes, (std::vector<PostOutcome>{PostOutcome::kMailboxGone, PostOutcome::kStored}));
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM personal.spent_tokens WHERE token_hash = $1",
                            pqxx::binarystring(gone_token))[0]
                .as<int>(),
            0);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM personal.envelopes")[0].as<int>(), 1);
  // Through the relay the deleted mailbox is simply unknown.
  EXPECT_EQ(
      relay_
          .SendSealed(tx, std::vector<SealedSend>{{gone.mailbox_id, access, "again", MintToken()}})
          .at(0)
          ->reason(),
      "NOT_FOUND");
}

TEST_F(PersonalRelayTest, SweeperDropsExpiredEnvelopesAndTokensOfRetiredKeys) {
  std::string access = RandomBytes(32);
  auto box = NewMailbox(access);
  {
    pqxx::work tx(*conn_);
    relay_.SendSealed(tx, {box.mailbox_id, access, "old", MintToken()});
    relay_.SendSealed(tx, {box.mailbox_id, access, "new", MintToken()});
    tx.exec0("UPDATE personal.envelopes SET expires_day = current_date - 1 WHERE seq = 1");
    tx.commit();
  }
  auto keys_noted = [&] {
    pqxx::nontransaction tx(*conn_);
    std::vector<std::string> keys;
    for (const auto& r : tx.exec("SELECT key_id FROM personal.spent_token_keys")) {
      keys.push_back(r[0].c_str());
    }
    return keys;
  };
  // The sweeper finds retired keys among the keys noted at spending, never by reading every
  // spent token.
  EXPECT_EQ(keys_noted(), std::vector<std::string>{verifier_.key_id()});
  EXPECT_EQ(SweepPersonal(personal_url_, 10, {verifier_.key_id()}), 1);
  EXPECT_EQ(keys_noted(), std::vector<std::string>{verifier_.key_id()});
  EXPECT_EQ(SweepPersonal(personal_url_, 10, {"retired"}), 3);  // the three spent tokens
  EXPECT_TRUE(keys_noted().empty());
  EXPECT_EQ(SweepPersonal(personal_url_, 10, {"retired"}), 0);
  pqxx::nontransaction tx(*conn_);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM personal.envelopes")[0].as<int>(), 1);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM personal.spent_tokens")[0].as<int>(), 0);
}

}  // namespace
}  // namespace bizrelay::personal
