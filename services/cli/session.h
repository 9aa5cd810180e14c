#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/personal_relay_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/cli/commands.h"
#include "services/cli/format.h"
#include "services/cli/invocation.h"
#include "services/cli/rpc_error.h"

namespace bizrelay::cli {

// Whether a call that failed with `code` may have taken effect on the relay all the same.
bool OutcomeUnknown(grpc::StatusCode code);

// What every command works with: the invocation, where output goes, the stubs of each service
// and the ways of calling them and printing what they answer. One per run of the CLI; not
// thread-safe. Calls that fail throw RpcError unless they return the status.
class Session {
 public:
  // `channel` leads to --addr or --operator-addr, `personal_channel` to --personal-addr.
  Session(const Invocation& invocation, Io& io, const std::shared_ptr<grpc::Channel>& channel,
          const std::shared_ptr<grpc::Channel>& personal_channel, std::string token);

  const Invocation& inv() const { return inv_; }
  Io& io() const { return io_; }
  // The bearer token of the invocation; never sent to the personal relay.
  const std::string& token() const { return token_; }
  v1::AccountService::Stub& account() const { return *account_; }
  v1::OperatorService::Stub& operator_service() const { return *operator_; }
  v1::UserChatService::Stub& chat() const { return *chat_; }
  v1::BusinessService::Stub& business() const { return *business_; }
  v1::PersonalRelayService::Stub& personal() const { return *personal_; }

  // One JSON object on one line; text that is not UTF-8 is replaced, never rejected.
  void PrintJson(const nlohmann::json& object) const;

  void Print(const google::protobuf::Message& response, const std::string& human) const;

  // One unary call to the personal relay with the call deadline, authenticated by
  // `owner_secret` unless it is empty. Never carries token_.
  template <typename Fn>
  grpc::Status PersonalCall(const std::string& owner_secret, Fn&& call) const {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(kCallDeadlineSeconds));
    if (!owner_secret.empty()) ctx.AddMetadata("authorization", "Bearer " + owner_secret);
    return call(&ctx);
  }

  template <typename Fn>
  void PersonalUnary(const std::string& owner_secret, Fn&& call) const {
    grpc::Status status = PersonalCall(owner_secret, std::forward<Fn>(call));
    if (!status.ok()) throw RpcError(std::move(status));
  }

  // `call(ClientContext*)` makes one unary call; returns its status.
  template <typename Fn>
  grpc::Status Call(Fn&& call) const {
    grpc::ClientContext ctx;
    Prepare(&ctx, /*with_deadline=*/true);
    return call(&ctx);
  }

  // `call(ClientContext*)` runs one streaming call (no deadline: an upload or download takes as
  // long as its bytes do); returns its status.
  template <typename Fn>
  grpc::Status Stream(Fn&& call) const {
    grpc::ClientContext ctx;
    Prepare(&ctx, /*with_deadline=*/false);
    return call(&ctx);
  }

  template <typename Fn>
  void Unary(Fn&& call) const {
    grpc::Status status = Call(std::forward<Fn>(call));
    if (!status.ok()) throw RpcError(std::move(status));
  }

  // Like Unary, but when the outcome is unknown (the relay may have committed the message
  // before the call failed) the error also says how to retry it without sending it twice. A
  // refusal (INVALID_ARGUMENT, FAILED_PRECONDITION, ...) stored nothing and gets no hint.
  template <typename Fn>
  void SendOnce(const std::string& key, Fn&& call) const {
    grpc::Status status = Call(std::forward<Fn>(call));
    if (status.ok()) return;
    std::string hint;
    if (inv_.generated_key && OutcomeUnknown(status.error_code())) {
      hint = "to retry without sending the message twice, add: --key " + key + "\n";
    }
    throw RpcError(std::move(status), std::move(hint));
  }

  template <typename Response>
  void PrintSent(const Response& response, const std::string& key) const {
    Print(response,
          FormatSent(response.message(), response.replayed(), inv_.generated_key ? key : ""));
    if (inv_.json && inv_.generated_key) io_.err << "idempotency_key: " << key << "\n";
  }

  // One page, or every page with --all. Human output is printed page by page; JSON output is
  // one response holding every item fetched.
  template <typename Response, typename Request, typename Fetch, typename Format>
  int List(Request request, Fetch fetch, Format format) const {
    Response merged;
    for (;;) {
      Response page;
      Unary([&](auto* ctx) { return fetch(ctx, request, &page); });
      if (!inv_.json) {
        io_.out << format(page);
        io_.out.flush();
      }
      merged.MergeFrom(page);
      if (!inv_.all_pages || page.next_page_token().empty()) break;
      if (page.next_page_token() == request.page_token()) {
        throw std::runtime_error("the relay returned the same page token twice");
      }
      request.set_page_token(page.next_page_token());
    }
    if (inv_.all_pages) merged.clear_next_page_token();
    if (inv_.json) {
      io_.out << ToJson(merged) << "\n";
    } else if (!merged.next_page_token().empty()) {
      io_.err << "more: --page-token " << Printable(merged.next_page_token()) << "\n";
    }
    return 0;
  }

  // Prints events until the stream ends or --count is reached, acknowledging each one after
  // it is printed when --ack is given (so an event is never acknowledged unseen).
  template <typename Event, typename Open, typename Ack>
  int Follow(Open open, Ack ack) const {
    grpc::ClientContext ctx;
    Prepare(&ctx, /*with_deadline=*/false);
    std::unique_ptr<grpc::ClientReader<Event>> reader = open(&ctx);
    auto stop = [&] {
      ctx.TryCancel();
      reader->Finish();
    };
    Event event;
    int64_t seen = 0;
    while (reader->Read(&event)) {
      io_.out << (inv_.json ? ToJson(event) + "\n" : FormatEvent(event));
      io_.out.flush();
      if (inv_.ack) {
        if (grpc::Status s = ack(event.position()); !s.ok()) {
          stop();
          throw RpcError(std::move(s));
        }
      }
      if (inv_.max_events > 0 && ++seen >= inv_.max_events) {
        stop();
        return 0;
      }
    }
    grpc::Status status = reader->Finish();
    if (!status.ok()) throw RpcError(std::move(status));
    return 0;
  }

 private:
  void Prepare(grpc::ClientContext* ctx, bool with_deadline) const;

  const Invocation& inv_;
  Io& io_;
  const std::string token_;
  std::unique_ptr<v1::AccountService::Stub> account_;
  std::unique_ptr<v1::OperatorService::Stub> operator_;
  std::unique_ptr<v1::UserChatService::Stub> chat_;
  std::unique_ptr<v1::BusinessService::Stub> business_;
  std::unique_ptr<v1::PersonalRelayService::Stub> personal_;
};

}  // namespace bizrelay::cli
