#pragma once

#include <grpcpp/server_context.h>

#include <algorithm>

#include "services/hosting/chats.h"
#include "services/hosting/convert.h"
#include "services/hosting/event_repository.h"
#include "services/hosting/hosting_env.h"
#include "services/rpc/bearer.h"
#include "services/rpc/log_stream.h"

namespace bizrelay::hosting {

// Starts the stream of the caller's event log (a user's events or a business's inbox): the
// caller is authenticated as `kind`, events are read after `after` and their message bodies
// opened with the business's data key.
template <typename Response>
rpc::LogStream<Response>* StartEventStream(grpc::CallbackServerContext* ctx, const HostingEnv& env,
                                           auth::PrincipalKind kind, int64_t after) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  const auth::Authenticator* auth = env.auth;
  KeyRing* keys = env.keys;
  int64_t lifetime = env.options->default_lifetime_seconds;
  return rpc::LogStream<Response>::Start(
      {env.rpc.pool, env.hub, env.options->stream_page, env.rpc.call_timeout},
      std::max<int64_t>(0, after),
      [auth, token, kind](pqxx::connection& conn) {
        pqxx::read_transaction tx(conn);
        return auth->Require(tx, token, kind).id;
      },
      [keys, lifetime](pqxx::connection& conn, const std::string& owner, int64_t from, int limit,
                       std::deque<Response>* out) {
        // No BEGIN and ROLLBACK round trips: the page is one statement, and a data key read
        // after it (the first time a business's key is needed) may only be newer.
        pqxx::nontransaction tx(conn);
        int64_t last = from;
        auto rows = EventRepository::Events(tx, owner, from, limit, lifetime, &last);
        OpenBodies(tx, *keys, &rows);
        for (const auto& row : rows) ToProto(row, &out->emplace_back());
        return last;
      });
}

}  // namespace bizrelay::hosting
