#pragma once

#include "bizrelay/v1/business_service.grpc.pb.h"
#include "services/hosting/chats.h"
#include "services/hosting/hosting_env.h"

namespace bizrelay::hosting {

// gRPC glue for bizrelay.v1.BusinessService.
class BusinessServiceImpl : public v1::BusinessService::CallbackService {
 public:
  explicit BusinessServiceImpl(HostingEnv env) : env_(env), desk_(*env.options, env.keys) {}

  grpc::ServerWriteReactor<v1::StreamInboxResponse>* StreamInbox(
      grpc::CallbackServerContext* ctx, const v1::StreamInboxRequest* request) override;
  grpc::ServerUnaryReactor* AcknowledgeInbox(grpc::CallbackServerContext* ctx,
                                             const v1::AcknowledgeInboxRequest* request,
                                             v1::AcknowledgeInboxResponse* response) override;
  grpc::ServerUnaryReactor* SendReply(grpc::CallbackServerContext* ctx,
                                      const v1::SendReplyRequest* request,
                                      v1::SendReplyResponse* response) override;
  grpc::ServerUnaryReactor* MarkMessagesRead(grpc::CallbackServerContext* ctx,
                                             const v1::MarkMessagesReadRequest* request,
                                             v1::MarkMessagesReadResponse* response) override;
  grpc::ServerUnaryReactor* CreateTemplate(grpc::CallbackServerContext* ctx,
                                           const v1::CreateTemplateRequest* request,
                                           v1::CreateTemplateResponse* response) override;
  grpc::ServerUnaryReactor* ListTemplates(grpc::CallbackServerContext* ctx,
                                          const v1::ListTemplatesRequest* request,
                                          v1::ListTemplatesResponse* response) override;
  grpc::ServerUnaryReactor* ListConversations(grpc::CallbackServerContext* ctx,
                                              const v1::ListConversationsRequest* request,
                                              v1::ListConversationsResponse* response) override;
  grpc::ServerUnaryReactor* ListMessages(grpc::CallbackServerContext* ctx,
                                         const v1::ListMessagesRequest* request,
                                         v1::ListMessagesResponse* response) override;
  grpc::ServerUnaryReactor* UpdateProfile(grpc::CallbackServerContext* ctx,
                                          const v1::UpdateProfileRequest* request,
                                          v1::UpdateProfileResponse* response) override;
  grpc::ServerUnaryReactor* GetRetentionPolicy(grpc::CallbackServerContext* ctx,
                                               const v1::GetRetentionPolicyRequest* request,
                                               v1::GetRetentionPolicyResponse* response) override;
  grpc::ServerUnaryReactor* SetRetentionPolicy(grpc::CallbackServerContext* ctx,
                                               const v1::SetRetentionPolicyRequest* request,
                                               v1::SetRetentionPolicyResponse* response) override;
  grpc::ServerUnaryReactor* LabelConversation(grpc::CallbackServerContext* ctx,
                                              const v1::LabelConversationRequest* request,
                                              v1::LabelConversationResponse* response) override;
  grpc::ServerUnaryReactor* ReactToMessage(grpc::CallbackServerContext* ctx,
                                           const v1::ReactToMessageRequest* request,
                                           v1::ReactToMessageResponse* response) override;

 protected:
  // Runs `work(tx, business_id)` in a read-write transaction for the authenticated business;
  // `check` runs first on the gRPC thread. (Protected: the webhook calls use it too.)
  grpc::ServerUnaryReactor* AsBusiness(
      grpc::CallbackServerContext* ctx, const std::function<void()>& check,
      std::function<void(pqxx::transaction_base&, const std::string&)> work);

  grpc::ServerReadReactor<v1::BusinessServiceUploadMediaRequest>* UploadMedia(
      grpc::CallbackServerContext* ctx, v1::BusinessServiceUploadMediaResponse* response) override;
  grpc::ServerWriteReactor<v1::BusinessServiceDownloadMediaResponse>* DownloadMedia(
      grpc::CallbackServerContext* ctx,
      const v1::BusinessServiceDownloadMediaRequest* request) override;

 private:
  const HostingEnv env_;
  const BusinessDesk desk_;
};

}  // namespace bizrelay::hosting
