#include "bench/setup.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <exception>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench/load.h"
#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"

namespace bizrelay::bench {

std::string Fmt(const char* format, ...) {
  char buf[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

std::string ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // Every call's own outcome is what the bench counts, so gRPC must not retry any call behind
  // its back. Off, the client also stops keeping a copy of each call's metadata for a retry.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    throw std::runtime_error("cannot connect to " + target);
  }
  return channel;
}

void Authorize(grpc::ClientContext* ctx, const std::string& token) {
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
}

void CallWithRetry(const char* what, const std::function<grpc::Status()>& call) {
  for (int attempt = 1;; ++attempt) {
    grpc::Status s = call();
    if (s.ok()) return;
    bool retryable = s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                     s.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (!retryable || attempt >= 20) {
      throw std::runtime_error(std::string(what) + " failed: " + CodeName(s.error_code()) + " " +
                               s.error_message());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
  }
}

void ParallelFor(int n, int threads, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::mutex mu;
  std::exception_ptr error;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) {
        try {
          fn(i);
        } catch (...) {
          std::lock_guard lock(mu);
          if (!error) error = std::current_exception();
          next = n;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

std::vector<Business> CreateBusinesses(const std::shared_ptr<grpc::Channel>& operator_channel,
                                       const std::string& operator_token, int count, int threads) {
  auto stub = v1::OperatorService::NewStub(operator_channel);
  std::vector<Business> out(static_cast<size_t>(count));
  ParallelFor(count, threads, [&](int i) {
    v1::CreateBusinessRequest req;
    req.mutable_profile()->set_display_name("Bench Business " + std::to_string(i));
    v1::CreateBusinessResponse resp;
    CallWithRetry("OperatorService.CreateBusiness", [&] {
      grpc::ClientContext ctx;
      Authorize(&ctx, operator_token);
      return stub->CreateBusiness(&ctx, req, &resp);
    });
    out[static_cast<size_t>(i)] = {resp.business().business_id(), resp.api_key()};
  });
  return out;
}

void SetDefaultLifetime(const std::shared_ptr<grpc::Channel>& channel,
                        const std::vector<Business>& businesses, int64_t seconds, int threads) {
  auto stub = v1::BusinessService::NewStub(channel);
  ParallelFor(static_cast<int>(businesses.size()), threads, [&](int i) {
    v1::SetRetentionPolicyRequest req;
    req.mutable_policy()->set_default_lifetime_seconds(seconds);
    v1::SetRetentionPolicyResponse resp;
    CallWithRetry("BusinessService.SetRetentionPolicy", [&] {
      grpc::ClientContext ctx;
      Authorize(&ctx, businesses[static_cast<size_t>(i)].api_key);
      return stub->SetRetentionPolicy(&ctx, req, &resp);
    });
  });
}

std::vector<User> CreateUsers(const std::shared_ptr<grpc::Channel>& channel,
                              const std::vector<Business>& businesses, int count, int threads) {
  auto accounts = v1::AccountService::NewStub(channel);
  auto chats = v1::UserChatService::NewStub(channel);
  std::vector<User> out(static_cast<size_t>(count));
  ParallelFor(count, threads, [&](int i) {
    v1::RegisterUserRequest reg;
    reg.set_display_name("bench user " + std::to_string(i));
    v1::RegisterUserResponse user;
    CallWithRetry("AccountService.RegisterUser", [&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
      return accounts->RegisterUser(&ctx, reg, &user);
    });
    const std::string& business = businesses[static_cast<size_t>(i) % businesses.size()].id;
    v1::GetBusinessDisclosureRequest dreq;
    dreq.set_business_id(business);
    v1::GetBusinessDisclosureResponse disclosure;
    CallWithRetry("UserChatService.GetBusinessDisclosure", [&] {
      grpc::ClientContext ctx;
      Authorize(&ctx, user.token());
      return chats->GetBusinessDisclosure(&ctx, dreq, &disclosure);
    });
    v1::StartChatRequest sreq;
    sreq.set_business_id(business);
    sreq.set_disclosure_version(disclosure.disclosure().version());
    v1::StartChatResponse started;
    CallWithRetry("UserChatService.StartChat", [&] {
      grpc::ClientContext ctx;
      Authorize(&ctx, user.token());
      return chats->StartChat(&ctx, sreq, &started);
    });
    out[static_cast<size_t>(i)] = {user.token(), business};
  });
  return out;
}

std::vector<std::string> RegisterUsers(const std::shared_ptr<grpc::Channel>& channel, int count,
                                       int threads, const std::string& name_prefix) {
  auto accounts = v1::AccountService::NewStub(channel);
  std::vector<std::string> out(static_cast<size_t>(count));
  ParallelFor(count, threads, [&](int i) {
    v1::RegisterUserRequest reg;
    reg.set_display_name(name_prefix + " " + std::to_string(i));
    v1::RegisterUserResponse user;
    CallWithRetry("AccountService.RegisterUser", [&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
      return accounts->RegisterUser(&ctx, reg, &user);
    });
    out[static_cast<size_t>(i)] = user.token();
  });
  return out;
}

}  // namespace bizrelay::bench
