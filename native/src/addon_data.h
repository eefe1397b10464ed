// Per-environment state (napi instance data): the id tables JS refers to.
#pragma once

#include <napi.h>

#include <memory>

#include "handle_table.h"

namespace fltb {

struct FileSession;
struct FileHandle;
class PortConnection;

struct AddonData {
  IdTable<FileSession> sessions;
  // Shared with open operations, which insert the new handle from a runner thread.
  std::shared_ptr<IdTable<FileHandle>> handles = std::make_shared<IdTable<FileHandle>>();
  IdTable<PortConnection> ports;
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace fltb
