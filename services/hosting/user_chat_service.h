#pragma once

#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/hosting/chats.h"
#include "services/hosting/hosting_env.h"

namespace bizrelay::hosting {

// gRPC glue for bizrelay.v1.UserChatService.
class UserChatServiceImpl final : public v1::UserChatService::CallbackService {
 public:
  explicit UserChatServiceImpl(HostingEnv env) : env_(env), chats_(*env.options, env.keys) {}

  grpc::ServerUnaryReactor* GetBusinessDisclosure(
      grpc::CallbackServerContext* ctx, const v1::GetBusinessDisclosureRequest* request,
      v1::GetBusinessDisclosureResponse* response) override;
  grpc::ServerUnaryReactor* StartChat(grpc::CallbackServerContext* ctx,
                                      const v1::StartChatRequest* request,
                                      v1::StartChatResponse* response) override;
  grpc::ServerUnaryReactor* BlockBusiness(grpc::CallbackServerContext* ctx,
                                          const v1::BlockBusinessRequest* request,
                                          v1::BlockBusinessResponse* response) override;
  grpc::ServerUnaryReactor* UnblockBusiness(grpc::CallbackServerContext* ctx,
                                            const v1::UnblockBusinessRequest* request,
                                            v1::UnblockBusinessResponse* response) override;
  grpc::ServerUnaryReactor* LeaveChat(grpc::CallbackServerContext* ctx,
                                      const v1::LeaveChatRequest* request,
                                      v1::LeaveChatResponse* response) override;
  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx,
                                        const v1::SendMessageRequest* request,
                                        v1::SendMessageResponse* response) override;
  grpc::ServerUnaryReactor* MarkRead(grpc::CallbackServerContext* ctx,
                                     const v1::MarkReadRequest* request,
                                     v1::MarkReadResponse* response) override;
  grpc::ServerUnaryReactor* ListChats(grpc::CallbackServerContext* ctx,
                                      const v1::ListChatsRequest* request,
                                      v1::ListChatsResponse* response) override;
  grpc::ServerUnaryReactor* ListChatMessages(grpc::CallbackServerContext* ctx,
                                             const v1::ListChatMessagesRequest* request,
                                             v1::ListChatMessagesResponse* response) override;
  grpc::ServerWriteReactor<v1::StreamEventsResponse>* StreamEvents(
      grpc::CallbackServerContext* ctx, const v1::StreamEventsRequest* request) override;
  grpc::ServerUnaryReactor* AcknowledgeEvents(grpc::CallbackServerContext* ctx,
                                              const v1::AcknowledgeEventsRequest* request,
                                              v1::AcknowledgeEventsResponse* response) override;
  grpc::ServerUnaryReactor* ReactToChatMessage(grpc::CallbackServerContext* ctx,
                                               const v1::ReactToChatMessageRequest* request,
                                               v1::ReactToChatMessageResponse* response) override;

  grpc::ServerReadReactor<v1::UploadMediaRequest>* UploadMedia(
      grpc::CallbackServerContext* ctx, v1::UploadMediaResponse* response) override;
  grpc::ServerWriteReactor<v1::DownloadMediaResponse>* DownloadMedia(
      grpc::CallbackServerContext* ctx, const v1::DownloadMediaRequest* request) override;

 private:
  // A send with media: not through the group commit (text sends do not pay for media), but one
  // transaction that stores the message as the group commit does and attaches the upload.
  grpc::ServerUnaryReactor* SendMessageWithMedia(grpc::CallbackServerContext* ctx,
                                                 const v1::SendMessageRequest* request,
                                                 v1::SendMessageResponse* response);
  // A send with content or a quote: checked against the database first (PrepareRichSend), on a
  // database worker, then stored through the batcher like any send.
  void SubmitRichSend(grpc::ServerUnaryReactor* reactor, grpc::CallbackServerContext* ctx,
                      std::string token, PostItem item, UserChats::Send send,
                      v1::SendMessageResponse* response);
  // Runs `work(tx, user_id)` in a read-write transaction for the authenticated user.
  grpc::ServerUnaryReactor* AsUser(
      grpc::CallbackServerContext* ctx,
      std::function<void(pqxx::transaction_base&, const std::string&)> work);

  const HostingEnv env_;
  const UserChats chats_;
};

}  // namespace bizrelay::hosting
