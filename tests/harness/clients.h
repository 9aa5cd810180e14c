#pragma once

// Clients of a real bizrelayd for end-to-end tests: the steps a business, a user and a
// personal-path client take, each a real gRPC call; failures are test failures (EXPECT).

#include <string>
#include <utility>
#include <vector>

#include "bizrelay/v1/personal_relay_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/crypto/sealed_box.h"
#include "tests/harness/daemon_process.h"

namespace bizrelay::e2e {

// A business onboarded through the operator API, and its API key.
struct Biz {
  std::string id, key;
};
// A registered user and their bearer token.
struct Usr {
  std::string id, token;
};

Biz CreateBusiness(DaemonProcess& d, const std::string& name);
Usr Register(DaemonProcess& d, const std::string& name);
// Reads the disclosure and starts the chat; returns the conversation id.
std::string StartChat(DaemonProcess& d, const Usr& u, const Biz& b);
grpc::Status Send(DaemonProcess& d, const Usr& u, const Biz& b, const std::string& text,
                  const std::string& key, v1::SendMessageResponse* resp = nullptr);

// A personal-path client: a user with send tokens, and a mailbox with published keys.
struct Person {
  std::string user_id, user_token;
  std::vector<v1::SendToken> tokens;
  std::string mailbox_id, owner_secret, access_key;
  crypto::KeyPair identity, signed_prekey;
};

// Registers a user and gets `tokens` send tokens on `d`, then makes a mailbox (spending one)
// on `relay_process`.
Person Join(DaemonProcess& d, DaemonProcess& relay_process, const std::string& name, int tokens);
Person Join(DaemonProcess& d, const std::string& name, int tokens);
// Seals `text` to `to`'s prekey and sends it with one of `from`'s tokens (kept if
// `reuse_token`).
grpc::Status SendTo(DaemonProcess& d, Person& from, const Person& to, const std::string& text,
                    bool reuse_token = false);
// Streams `count` envelopes of `me`'s mailbox, opens them (sender identity key, text) and
// acknowledges them.
std::vector<std::pair<std::string, std::string>> Receive(DaemonProcess& d, const Person& me,
                                                         int count);

}  // namespace bizrelay::e2e
