#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bizrelay::bench {

std::string Fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));

// The file's contents without trailing whitespace; throws std::runtime_error if unreadable.
std::string ReadTrimmed(const std::string& path);

// A channel with its own TCP connection: channels with equal arguments would otherwise share
// one subchannel, and so one connection, through the global subchannel pool. Throws if it does
// not connect within 10 s.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target);

// Adds `authorization: Bearer <token>` and the benchmark's call deadline.
void Authorize(grpc::ClientContext* ctx, const std::string& token);

// Runs `call` (which makes one RPC with a fresh context) until it succeeds; retries what a
// loaded server may answer to setup calls (RESOURCE_EXHAUSTED, UNAVAILABLE), throws otherwise.
void CallWithRetry(const char* what, const std::function<grpc::Status()>& call);

// Calls fn(0..n-1) from `threads` threads; rethrows the first exception.
void ParallelFor(int n, int threads, const std::function<void(int)>& fn);

struct Business {
  std::string id;
  std::string api_key;
};

struct User {
  std::string token;
  std::string business_id;
};

std::vector<Business> CreateBusinesses(const std::shared_ptr<grpc::Channel>& operator_channel,
                                       const std::string& operator_token, int count, int threads);

// Sets every business's default message lifetime (BusinessService.SetRetentionPolicy). Call it
// before users start chats: a changed policy gives the businesses a new disclosure version.
void SetDefaultLifetime(const std::shared_ptr<grpc::Channel>& channel,
                        const std::vector<Business>& businesses, int64_t seconds, int threads);

// Registers `count` users; user i starts a chat with business i % businesses, as a user's
// client would: it reads the disclosure first and consents to the version it was shown.
std::vector<User> CreateUsers(const std::shared_ptr<grpc::Channel>& channel,
                              const std::vector<Business>& businesses, int count, int threads);

// Registers `count` users without chats; returns their tokens.
std::vector<std::string> RegisterUsers(const std::shared_ptr<grpc::Channel>& channel, int count,
                                       int threads, const std::string& name_prefix);

}  // namespace bizrelay::bench
