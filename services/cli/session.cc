#include "services/cli/session.h"

namespace bizrelay::cli {

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

Session::Session(const Invocation& invocation, Io& io,
                 const std::shared_ptr<grpc::Channel>& channel,
                 const std::shared_ptr<grpc::Channel>& personal_channel, std::string token)
    : inv_(invocation),
      io_(io),
      token_(std::move(token)),
      account_(v1::AccountService::NewStub(channel)),
      operator_(v1::OperatorService::NewStub(channel)),
      chat_(v1::UserChatService::NewStub(channel)),
      business_(v1::BusinessService::NewStub(channel)),
      personal_(v1::PersonalRelayService::NewStub(personal_channel)) {}

void Session::PrintJson(const nlohmann::json& object) const {
  io_.out << object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  io_.out.flush();
}

void Session::Print(const google::protobuf::Message& response, const std::string& human) const {
  if (inv_.json) {
    io_.out << ToJson(response) << "\n";
  } else {
    io_.out << human;
  }
  io_.out.flush();
}

void Session::Prepare(grpc::ClientContext* ctx, bool with_deadline) const {
  if (with_deadline) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(kCallDeadlineSeconds));
  }
  if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
}

}  // namespace bizrelay::cli
