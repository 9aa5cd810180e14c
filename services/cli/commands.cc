#include "services/cli/commands.h"

#include <grpcpp/grpcpp.h>

#include <exception>
#include <string>
#include <utility>
#include <variant>

#include "services/cli/account_commands.h"
#include "services/cli/business_commands.h"
#include "services/cli/chat_commands.h"
#include "services/cli/credentials.h"
#include "services/cli/format.h"
#include "services/cli/media_commands.h"
#include "services/cli/operator_commands.h"
#include "services/cli/personal_commands.h"
#include "services/cli/rpc_error.h"
#include "services/cli/session.h"
#include "services/platform/error.h"

namespace bizrelay::cli {
namespace {

// Every command: Do has an overload for every alternative of Request, each in the class of the
// service it talks to.
class Commands : AccountCommands,
                 OperatorCommands,
                 ChatCommands,
                 BusinessCommands,
                 MediaCommands,
                 PersonalCommands {
 public:
  explicit Commands(Session& session)
      : AccountCommands(session),
        OperatorCommands(session),
        ChatCommands(session),
        BusinessCommands(session),
        MediaCommands(session),
        PersonalCommands(session) {}

  using AccountCommands::Do;
  using BusinessCommands::Do;
  using ChatCommands::Do;
  using MediaCommands::Do;
  using OperatorCommands::Do;
  using PersonalCommands::Do;
};

}  // namespace

int Run(const Invocation& invocation, Io& io) {
  try {
    std::string token = NeedsToken(invocation.request) ? LoadToken(invocation.connection) : "";
    const ConnectionOptions& conn = invocation.connection;
    auto credentials = MakeChannelCredentials(conn);
    // Channels connect on first use, so the one a command does not use costs nothing.
    auto channel = grpc::CreateChannel(
        UsesOperatorListener(invocation.request) ? conn.operator_addr : conn.addr, credentials);
    auto personal_channel = grpc::CreateChannel(conn.personal_addr, credentials);
    Session session(invocation, io, channel, personal_channel, std::move(token));
    Commands commands(session);
    return std::visit([&commands](const auto& request) { return commands.Do(request); },
                      invocation.request);
  } catch (const UsageError& e) {
    io.err << "error: " << e.what() << "\n";
    return 2;
  } catch (const RpcError& e) {
    io.err << FormatError(e.status()) << e.hint();
    return 1;
  } catch (const Error& e) {
    io.err << "error: " << e.reason() << ": " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    io.err << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace bizrelay::cli
