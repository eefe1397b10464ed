// The NT name of an existing file or directory, the way the filter manager names it: the
// namespaces CONFIGURE takes are NT paths (\Device\HarddiskVolume3\fltb), users type DOS paths
// (C:\fltb).
//
// CreateFileW with FILE_READ_ATTRIBUTES only (no oplock is broken, no sharing is refused) and
// FILE_FLAG_BACKUP_SEMANTICS (directories open), then GetFinalPathNameByHandleW with
// FILE_NAME_NORMALIZED | VOLUME_NAME_NT. That is the name FltGetFileNameInformation(NORMALIZED)
// gives the driver for files under it: long names instead of 8.3 ones, the case stored on disk,
// junctions, symbolic links, subst drives and volume mount points resolved, the volume as its
// device (\Device\HarddiskVolumeN). QueryDosDeviceW would map only the drive letter and resolve
// none of the rest.
//
// Runs on the session's blocking runner (an open can wait: a slow or network volume) and
// completes through the session's IOCP like any I/O: an "io" record whose `data` is the name in
// UTF-16LE and whose `information` is its byte count; a failure carries the NTSTATUS of the
// failing call (STATUS_OBJECT_NAME_NOT_FOUND when the path does not exist).
#pragma once

#include <napi.h>

namespace fltb {

// finalPath(session, request, path)
Napi::Value FinalPath(const Napi::CallbackInfo& info);

}  // namespace fltb
