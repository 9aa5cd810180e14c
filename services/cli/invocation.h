#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bizrelay/v1/account_service.pb.h"
#include "bizrelay/v1/business_service.pb.h"
#include "bizrelay/v1/operator_service.pb.h"
#include "bizrelay/v1/user_chat_service.pb.h"
#include "services/cli/personal_client.h"

namespace bizrelay::cli {

// A mistake in how bizrelay was invoked (a bad flag, a missing credential, an unreadable file).
// Reported before any RPC is made; exit status 2. Messages never contain a token.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where and as whom to connect. Flags win over the environment.
struct ConnectionOptions {
  std::string addr = "127.0.0.1:7000";
  std::string operator_addr = "127.0.0.1:7002";
  // The personal relay's listener. Only personal commands connect to it, and never with the
  // bearer token above.
  std::string personal_addr = "127.0.0.1:7001";
  // From --token or BIZRELAY_TOKEN. Empty when --token-file is given.
  std::string token;
  std::string token_file;
  // A non-empty ca_file selects TLS; cert_file and key_file (both or neither) add a client
  // certificate. Otherwise the connection is plaintext.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// Personal (person-to-person) commands. Each runs several calls, so each has its own type.
// They use the key store in Invocation::keys_dir.

// Obtains send tokens, creates a mailbox, publishes keys and prints the contact card.
// Needs the user token (for the tokens only).
struct PersonalInit {
  int tokens = 20;
};
// Obtains more send tokens. Needs the user token.
struct PersonalTokens {
  int count = 20;
};
// Publishes one-time prekeys when fewer than kOneTimePrekeyLow are left.
struct PersonalRefill {};
// Seals `text` to the contact and sends it, spending one stored send token.
struct PersonalSend {
  ContactCard contact;
  std::string text;
};
// Prints (and acknowledges) the mailbox's envelopes. --count is Invocation::max_events.
struct PersonalListen {
  int64_t after_sequence = 0;
};

// send --file (user) and reply --file (business): uploads the file (UploadMedia), then sends
// `message` with the media attached and its text as the caption.
struct SendFile {
  v1::SendMessageRequest message;
  std::string path;
  // Declared type; empty: what libmagic reads from the file.
  std::string mime_type;
};
struct ReplyFile {
  v1::SendReplyRequest reply;
  std::string path;
  std::string mime_type;
};
// download: the content of media into `out` from `offset` (the file is cut there and written
// on); with `resume` the offset is the file's present size. `as_business` uses
// BusinessService (a business API key) instead of UserChatService.
struct DownloadFile {
  std::string media_id;
  std::string out;
  int64_t offset = 0;
  bool resume = false;
  bool as_business = false;
};

// Downloads everything held about the user into `out` (mode 0600): the account's export and,
// when a personal key store exists, the mailbox's export under "personal_mailbox".
struct ExportData {
  std::string out;
};
// Erases the account and, when a personal key store exists, the mailbox and the store.
// Needs --yes.
struct DeleteAccount {};

// The request of the RPC a command starts with. Every command has its own alternative (`reply`
// and `template send` are the same RPC), so the type alone says what to run.
using Request = std::variant<
    // AccountService
    v1::RegisterUserRequest, v1::GetProfileRequest, v1::GetPolicyStatusRequest,
    v1::AcceptPolicyRequest, v1::OptOutOfDataSharingRequest, ExportData, DeleteAccount,
    // OperatorService
    v1::CreateBusinessRequest, v1::GetBusinessRequest, v1::RotateBusinessKeyRequest,
    v1::DisableBusinessRequest,
    // UserChatService. `start` carries a StartChatRequest whose disclosure_version is filled in
    // from the disclosure it fetches first.
    v1::GetBusinessDisclosureRequest, v1::StartChatRequest, v1::BlockBusinessRequest,
    v1::UnblockBusinessRequest, v1::LeaveChatRequest, v1::SendMessageRequest, v1::MarkReadRequest,
    v1::ListChatsRequest, v1::ListChatMessagesRequest, v1::StreamEventsRequest, SendFile,
    DownloadFile, v1::ReactToChatMessageRequest,
    // BusinessService
    v1::StreamInboxRequest, v1::SendReplyRequest, v1::MarkMessagesReadRequest,
    v1::CreateTemplateRequest, v1::ListTemplatesRequest, v1::ListConversationsRequest,
    v1::ListMessagesRequest, v1::UpdateProfileRequest, v1::CreateWebhookEndpointRequest,
    v1::ListWebhookEndpointsRequest, v1::UpdateWebhookEndpointRequest,
    v1::DeleteWebhookEndpointRequest, v1::TestWebhookEndpointRequest, ReplyFile,
    v1::ReactToMessageRequest,
    // PersonalRelayService (and AccountService for send tokens)
    PersonalInit, PersonalTokens, PersonalRefill, PersonalSend, PersonalListen>;

// One parsed command line.
struct Invocation {
  ConnectionOptions connection;
  // Print responses in the proto3 JSON mapping, one object per line.
  bool json = false;
  Request request;
  // start: consent without asking.
  bool assume_yes = false;
  // listen, inbox: acknowledge each event once it is printed.
  bool ack = false;
  // listen, inbox: stop after this many events; 0 means until the stream ends.
  int64_t max_events = 0;
  // Listings: follow next_page_token to the last page.
  bool all_pages = false;
  // send, reply, template send: the idempotency key was generated rather than given with
  // --key, so it is shown to let the user retry the same message.
  bool generated_key = false;
  // personal: the key store directory (--keys-dir, default $HOME/.bizrelay/personal).
  std::string keys_dir;
};

struct ParseResult {
  enum class Outcome { kOk, kHelp, kUsageError } outcome = Outcome::kOk;
  Invocation invocation;
  // The help text (kHelp) or what is wrong (kUsageError).
  std::string message;
};

// BIZRELAY_* variables (and HOME) of the environment, by name.
using Environment = std::map<std::string, std::string>;

// Parses the arguments after the program name. Reads BIZRELAY_ADDR, BIZRELAY_OPERATOR_ADDR,
// BIZRELAY_PERSONAL_ADDR, BIZRELAY_TOKEN and HOME (the default --keys-dir) from `env`. Never
// exits and never touches the network or the file system.
ParseResult ParseCommandLine(const std::vector<std::string>& args, const Environment& env);

// The process environment, only its BIZRELAY_* variables and HOME.
Environment ProcessEnvironment();

// Parses `--param` values of the form name=value (the value may be empty and may contain '=').
// Throws UsageError on a missing '=', an empty name, or a name given twice.
std::map<std::string, std::string> ParseTemplateParameters(const std::vector<std::string>& params);

// Parses `--kinds`: a comma-separated list of message, status and notice (the event kinds a
// webhook endpoint receives). Throws UsageError on anything else.
std::vector<v1::WebhookEventKind> ParseWebhookKinds(const std::string& kinds);

// Parses `--button` values ID=TITLE (reply buttons, template quick replies). Throws UsageError
// on a missing '=' or an empty id.
std::vector<v1::ReplyButton> ParseButtons(const std::vector<std::string>& buttons);

// Parses `--row` values SECTION|ID|TITLE[|DESCRIPTION] into sections, in order of first
// appearance (rows of one section title are grouped). Throws UsageError on fewer than three
// parts.
v1::ListMenu ParseListRows(const std::string& button_text, const std::vector<std::string>& rows);

// A fresh idempotency key: 128 random bits as 32 lowercase hex digits.
std::string NewIdempotencyKey();

// Whether `answer` to a y/N question means yes ("y" or "yes", any case, surrounding blanks
// ignored).
bool IsYes(std::string_view answer);

// Whether the request goes to the operator listener (--operator-addr) instead of the public one.
bool UsesOperatorListener(const Request& request);

// Whether the request is a personal command. Those talk to --personal-addr, and to --addr only
// to obtain send tokens.
bool IsPersonal(const Request& request);

// Whether the request needs a bearer token: every one except RegisterUser and the personal
// commands, of which only `personal init` and `personal tokens` need the user token.
bool NeedsToken(const Request& request);

}  // namespace bizrelay::cli
