#pragma once

#include "services/auth/authenticator.h"
#include "services/hosting/keyring.h"
#include "services/hosting/rules.h"
#include "services/hosting/send_batcher.h"
#include "services/platform/rate_limiter.h"
#include "services/rpc/unary.h"
#include "services/store/notify_hub.h"

namespace bizrelay::hosting {

class UploadSlots;

// What the hosting services share; owned by the daemon, outliving the services.
struct HostingEnv {
  rpc::RpcEnv rpc;
  const auth::Authenticator* auth = nullptr;
  const HostingOptions* options = nullptr;
  SendBatcher* batcher = nullptr;
  store::NotifyHub* hub = nullptr;
  KeyRing* keys = nullptr;
  // Sends per credential (keyed by token hash).
  RateLimiter* send_limiter = nullptr;
  // Media uploads running per principal on this instance.
  UploadSlots* upload_slots = nullptr;
};

// RESOURCE_EXHAUSTED (reason RATE_LIMITED, with a retry delay) if the credential is over its
// send rate.
void CheckSendRate(const HostingEnv& env, const std::string& token_hash);

}  // namespace bizrelay::hosting
