#include "services/cli/commands.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/cli/credentials.h"
#include "services/cli/format.h"

namespace bizrelay::cli {
namespace {

// A call the relay refused or that did not complete. `hint` (whole lines) follows the error.
class RpcError : public std::exception {
 public:
  RpcError(grpc::Status status, std::string hint = "")
      : status_(std::move(status)), hint_(std::move(hint)) {}
  const grpc::Status& status() const { return status_; }
  const std::string& hint() const { return hint_; }
  const char* what() const noexcept override { return "call failed"; }

 private:
  grpc::Status status_;
  std::string hint_;
};

bool OutcomeUnknown(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::ABORTED:
      return true;
    default:
      return false;
  }
}

// Runs one command: Do has an overload for every alternative of Request.
class Runner {
 public:
  Runner(const Invocation& invocation, Io& io, const std::shared_ptr<grpc::Channel>& channel,
         std::string token)
      : inv_(invocation),
        io_(io),
        token_(std::move(token)),
        account_(v1::AccountService::NewStub(channel)),
        operator_(v1::OperatorService::NewStub(channel)),
        chat_(v1::UserChatService::NewStub(channel)),
        business_(v1::BusinessService::NewStub(channel)) {}

  int Do(const v1::RegisterUserRequest& request) {
    v1::RegisterUserResponse response;
    Unary([&](auto* ctx) { return account_->RegisterUser(ctx, request, &response); });
    Print(response, FormatRegistered(response));
    if (!inv_.json) io_.err << "The token is shown only this once; keep it safe.\n";
    return 0;
  }

  int Do(const v1::GetProfileRequest& request) {
    v1::GetProfileResponse response;
    Unary([&](auto* ctx) { return account_->GetProfile(ctx, request, &response); });
    Print(response, FormatProfile(response.profile()));
    return 0;
  }

  int Do(const v1::CreateBusinessRequest& request) {
    v1::CreateBusinessResponse response;
    Unary([&](auto* ctx) { return operator_->CreateBusiness(ctx, request, &response); });
    Print(response, FormatCreatedBusiness(response));
    return 0;
  }

  int Do(const v1::GetBusinessRequest& request) {
    v1::GetBusinessResponse response;
    Unary([&](auto* ctx) { return operator_->GetBusiness(ctx, request, &response); });
    Print(response, FormatBusiness(response.business()));
    return 0;
  }

  int Do(const v1::RotateBusinessKeyRequest& request) {
    v1::RotateBusinessKeyResponse response;
    Unary([&](auto* ctx) { return operator_->RotateBusinessKey(ctx, request, &response); });
    Print(response, FormatRotatedKey(response));
    return 0;
  }

  int Do(const v1::DisableBusinessRequest& request) {
    v1::DisableBusinessResponse response;
    Unary([&](auto* ctx) { return operator_->DisableBusiness(ctx, request, &response); });
    Print(response, FormatBusiness(response.business()));
    return 0;
  }

  int Do(const v1::GetBusinessDisclosureRequest& request) {
    v1::GetBusinessDisclosureResponse response;
    Unary([&](auto* ctx) { return chat_->GetBusinessDisclosure(ctx, request, &response); });
    Print(response, FormatDisclosure(response));
    return 0;
  }

  // Consent is given to the disclosure version shown here; if the business changes its terms
  // in between, StartChat fails with DISCLOSURE_CHANGED and nothing is started.
  int Do(const v1::StartChatRequest& request) {
    if (!inv_.assume_yes && !io_.interactive) {
      throw UsageError("start: stdin is not a terminal; pass --yes to consent to the terms");
    }
    v1::GetBusinessDisclosureRequest disclosure_request;
    disclosure_request.set_business_id(request.business_id());
    v1::GetBusinessDisclosureResponse disclosure;
    Unary([&](auto* ctx) {
      return chat_->GetBusinessDisclosure(ctx, disclosure_request, &disclosure);
    });
    Print(disclosure, FormatDisclosure(disclosure));
    if (!inv_.assume_yes) {
      io_.err << "\nStart a chat with " << Printable(disclosure.display_name())
              << " on these terms? [y/N] " << std::flush;
      std::string answer;
      std::getline(io_.in, answer);
      if (!IsYes(answer)) {
        io_.err << "chat not started\n";
        return 1;
      }
    }
    v1::StartChatRequest start = request;
    start.set_disclosure_version(disclosure.disclosure().version());
    v1::StartChatResponse response;
    Unary([&](auto* ctx) { return chat_->StartChat(ctx, start, &response); });
    if (!inv_.json) io_.out << "\n";
    Print(response, FormatStarted(response));
    return 0;
  }

  int Do(const v1::BlockBusinessRequest& request) {
    v1::BlockBusinessResponse response;
    Unary([&](auto* ctx) { return chat_->BlockBusiness(ctx, request, &response); });
    Print(response, FormatChatState(response.state()));
    return 0;
  }

  int Do(const v1::UnblockBusinessRequest& request) {
    v1::UnblockBusinessResponse response;
    Unary([&](auto* ctx) { return chat_->UnblockBusiness(ctx, request, &response); });
    Print(response, FormatChatState(response.state()));
    return 0;
  }

  int Do(const v1::LeaveChatRequest& request) {
    v1::LeaveChatResponse response;
    Unary([&](auto* ctx) { return chat_->LeaveChat(ctx, request, &response); });
    Print(response, FormatChatState(response.state()));
    return 0;
  }

  int Do(const v1::SendMessageRequest& request) {
    v1::SendMessageResponse response;
    SendOnce(request.idempotency_key(),
             [&](auto* ctx) { return chat_->SendMessage(ctx, request, &response); });
    PrintSent(response, request.idempotency_key());
    return 0;
  }

  int Do(const v1::MarkReadRequest& request) {
    v1::MarkReadResponse response;
    Unary([&](auto* ctx) { return chat_->MarkRead(ctx, request, &response); });
    Print(response, FormatMarked(response.marked()));
    return 0;
  }

  int Do(const v1::ListChatsRequest& request) {
    return List<v1::ListChatsResponse>(
        request,
        [&](auto* ctx, const auto& req, auto* page) { return chat_->ListChats(ctx, req, page); },
        [](const auto& page) { return FormatChats(page); });
  }

  int Do(const v1::ListChatMessagesRequest& request) {
    return List<v1::ListChatMessagesResponse>(
        request,
        [&](auto* ctx, const auto& req, auto* page) {
          return chat_->ListChatMessages(ctx, req, page);
        },
        [](const auto& page) { return FormatMessages(page.messages()); });
  }

  int Do(const v1::StreamEventsRequest& request) {
    return Follow<v1::StreamEventsResponse>(
        [&](auto* ctx) { return chat_->StreamEvents(ctx, request); },
        [&](int64_t position) {
          v1::AcknowledgeEventsRequest ack;
          ack.set_position(position);
          v1::AcknowledgeEventsResponse response;
          return Call([&](auto* ctx) { return chat_->AcknowledgeEvents(ctx, ack, &response); });
        });
  }

  int Do(const v1::StreamInboxRequest& request) {
    return Follow<v1::StreamInboxResponse>(
        [&](auto* ctx) { return business_->StreamInbox(ctx, request); },
        [&](int64_t position) {
          v1::AcknowledgeInboxRequest ack;
          ack.set_position(position);
          v1::AcknowledgeInboxResponse response;
          return Call([&](auto* ctx) { return business_->AcknowledgeInbox(ctx, ack, &response); });
        });
  }

  int Do(const v1::SendReplyRequest& request) {
    v1::SendReplyResponse response;
    SendOnce(request.idempotency_key(),
             [&](auto* ctx) { return business_->SendReply(ctx, request, &response); });
    PrintSent(response, request.idempotency_key());
    return 0;
  }

  int Do(const v1::MarkMessagesReadRequest& request) {
    v1::MarkMessagesReadResponse response;
    Unary([&](auto* ctx) { return business_->MarkMessagesRead(ctx, request, &response); });
    Print(response, FormatMarked(response.marked()));
    return 0;
  }

  int Do(const v1::CreateTemplateRequest& request) {
    v1::CreateTemplateResponse response;
    Unary([&](auto* ctx) { return business_->CreateTemplate(ctx, request, &response); });
    google::protobuf::RepeatedPtrField<v1::Template> created;
    *created.Add() = response.template_();
    Print(response, FormatTemplates(created));
    return 0;
  }

  int Do(const v1::ListTemplatesRequest& request) {
    v1::ListTemplatesResponse response;
    Unary([&](auto* ctx) { return business_->ListTemplates(ctx, request, &response); });
    Print(response, FormatTemplates(response.templates()));
    return 0;
  }

  int Do(const v1::ListConversationsRequest& request) {
    return List<v1::ListConversationsResponse>(
        request,
        [&](auto* ctx, const auto& req, auto* page) {
          return business_->ListConversations(ctx, req, page);
        },
        [](const auto& page) { return FormatConversations(page); });
  }

  int Do(const v1::ListMessagesRequest& request) {
    return List<v1::ListMessagesResponse>(
        request,
        [&](auto* ctx, const auto& req, auto* page) {
          return business_->ListMessages(ctx, req, page);
        },
        [](const auto& page) { return FormatMessages(page.messages()); });
  }

  int Do(const v1::UpdateProfileRequest& request) {
    v1::UpdateProfileResponse response;
    Unary([&](auto* ctx) { return business_->UpdateProfile(ctx, request, &response); });
    Print(response, FormatProfileUpdate(response));
    return 0;
  }

 private:
  void Prepare(grpc::ClientContext* ctx, bool with_deadline) const {
    if (with_deadline) {
      ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(kCallDeadlineSeconds));
    }
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  }

  // `call(ClientContext*)` makes one unary call; returns its status.
  template <typename Fn>
  grpc::Status Call(Fn&& call) const {
    grpc::ClientContext ctx;
    Prepare(&ctx, /*with_deadline=*/true);
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

  void Print(const google::protobuf::Message& response, const std::string& human) const {
    if (inv_.json) {
      io_.out << ToJson(response) << "\n";
    } else {
      io_.out << human;
    }
    io_.out.flush();
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

  const Invocation& inv_;
  Io& io_;
  const std::string token_;
  std::unique_ptr<v1::AccountService::Stub> account_;
  std::unique_ptr<v1::OperatorService::Stub> operator_;
  std::unique_ptr<v1::UserChatService::Stub> chat_;
  std::unique_ptr<v1::BusinessService::Stub> business_;
};

}  // namespace

int Run(const Invocation& invocation, Io& io) {
  try {
    std::string token = NeedsToken(invocation.request) ? LoadToken(invocation.connection) : "";
    const ConnectionOptions& conn = invocation.connection;
    auto channel = grpc::CreateChannel(
        UsesOperatorListener(invocation.request) ? conn.operator_addr : conn.addr,
        MakeChannelCredentials(conn));
    Runner runner(invocation, io, channel, std::move(token));
    return std::visit([&runner](const auto& request) { return runner.Do(request); },
                      invocation.request);
  } catch (const UsageError& e) {
    io.err << "error: " << e.what() << "\n";
    return 2;
  } catch (const RpcError& e) {
    io.err << FormatError(e.status()) << e.hint();
    return 1;
  } catch (const std::exception& e) {
    io.err << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace bizrelay::cli
