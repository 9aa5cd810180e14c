#pragma once

#include "services/cli/invocation.h"
#include "services/cli/session.h"

namespace bizrelay::cli {

// Media: send --file, reply --file (an upload, then the message), download.
class MediaCommands {
 public:
  explicit MediaCommands(Session& session) : session_(session) {}

  // Uploads the file through UserChatService.UploadMedia, then sends the message with it.
  int Do(const SendFile& request);
  // Uploads the file through BusinessService.UploadMedia, then replies with it.
  int Do(const ReplyFile& request);
  // Streams the content into the file. If the stream breaks, what arrived stays in the file
  // and the error says how to resume.
  int Do(const DownloadFile& request);

 private:
  Session& session_;
};

// The type to declare for a file: `given` if set, else what libmagic reads from its first
// bytes.
std::string DeclaredType(const std::string& given, const std::string& head);

}  // namespace bizrelay::cli
