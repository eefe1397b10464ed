/*
 * driver-admin-fltlib.c: a test double of fltlib.dll's filter and instance enumeration, for
 * running the driver-management bindings' "loaded" paths under Wine, whose own fltlib answers
 * FilterFindFirst with ERROR_NO_MORE_ITEMS and aborts the process in FilterFindNext and
 * FilterInstanceFind*. Built with mingw by scripts/suites/70-wine.mjs into
 * build/wine/driver-double/fltlib.dll, loaded by a node.exe in the same directory with
 * WINEDLLOVERRIDES=fltlib=n. Test-only, never shipped.
 *
 * The buffers are filled through the structure definitions of the mingw-w64 headers
 * (fltuserstructures.h), so what the TypeScript decoders read is laid out by a C compiler from
 * the SDK's declarations, not by the decoders' own idea of the offsets.
 *
 * What it reports (fixed):
 *   filters, one per FilterFindFirst/FilterFindNext call as fltlib does: a legacy filter
 *   "LegacyFs" (FLTFL_ASI_IS_LEGACYFILTER), the minifilters "WdFilter" at 328010 and "FltBridge"
 *   at 370030, then ERROR_NO_MORE_ITEMS;
 *   instances of FltBridge (name compared case-insensitively, as fltmgr does): the owner and the
 *   watch instance on \Device\HarddiskVolume3 and the owner on \Device\HarddiskVolume5, then
 *   ERROR_NO_MORE_ITEMS; any other filter: ERROR_FLT_FILTER_NOT_FOUND;
 *   FilterGetDosName: \Device\HarddiskVolume3 is C:, other volumes have no DOS name;
 *   FilterLoad: the HRESULT in FLTBRIDGE_DOUBLE_LOAD_HR (hex; read at each call), else S_OK;
 *   FilterUnload: S_OK;
 *   FilterConnectCommunicationPort: E_NOTIMPL with INVALID_HANDLE_VALUE, as Wine's own answers
 *   (the CLI's `driver status` asks the port for the policy once the filter is loaded; this
 *   double has no port).
 * A buffer too small for an entry gets HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER) and the
 * size needed in *lpBytesReturned, as fltlib answers.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <fltuser.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define HR_WIN32(e) ((HRESULT)(((e) & 0x0000FFFF) | (FACILITY_WIN32 << 16) | 0x80000000))
#define HR_FLT_FILTER_NOT_FOUND ((HRESULT)0x801F0013L)

typedef struct {
  ULONG flags; /* FLTFL_ASI_IS_MINIFILTER or FLTFL_ASI_IS_LEGACYFILTER */
  const wchar_t *name;
  const wchar_t *altitude;
  ULONG instances;
} FilterRow;

static const FilterRow FILTERS[] = {
    {FLTFL_ASI_IS_LEGACYFILTER, L"LegacyFs", L"", 0},
    {FLTFL_ASI_IS_MINIFILTER, L"WdFilter", L"328010", 4},
    {FLTFL_ASI_IS_MINIFILTER, L"FltBridge", L"370030", 3},
};

typedef struct {
  const wchar_t *name;
  const wchar_t *altitude;
  const wchar_t *volume;
} InstanceRow;

static const InstanceRow INSTANCES[] = {
    {L"FltBridge Instance", L"370030", L"\\Device\\HarddiskVolume3"},
    {L"FltBridge Watch Instance", L"370040", L"\\Device\\HarddiskVolume3"},
    {L"FltBridge Instance", L"370030", L"\\Device\\HarddiskVolume5"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A find handle: which list, and the next row. */
typedef struct {
  int instances;
  size_t next;
} Find;

static USHORT bytes_of(const wchar_t *s) { return (USHORT)(wcslen(s) * sizeof(wchar_t)); }

/* Append `s` (no terminator, as fltmgr stores names) at *at; returns its offset. */
static USHORT put(BYTE *entry, ULONG *at, const wchar_t *s) {
  USHORT offset = (USHORT)*at;
  memcpy(entry + *at, s, bytes_of(s));
  *at += bytes_of(s);
  return offset;
}

static HRESULT fill_filter(const FilterRow *row, LPVOID buffer, DWORD size, LPDWORD returned) {
  ULONG base = sizeof(FILTER_AGGREGATE_STANDARD_INFORMATION);
  ULONG need = base + bytes_of(row->name) + bytes_of(row->altitude);
  if (returned) *returned = need;
  if (!buffer || size < need) return HR_WIN32(ERROR_INSUFFICIENT_BUFFER);
  memset(buffer, 0, need);
  FILTER_AGGREGATE_STANDARD_INFORMATION *info = buffer;
  ULONG at = base;
  info->NextEntryOffset = 0;
  info->Flags = row->flags;
  if (row->flags & FLTFL_ASI_IS_MINIFILTER) {
    info->Type.MiniFilter.Flags = 0;
    info->Type.MiniFilter.FrameID = 0;
    info->Type.MiniFilter.NumberOfInstances = row->instances;
    info->Type.MiniFilter.FilterNameLength = bytes_of(row->name);
    info->Type.MiniFilter.FilterNameBufferOffset = put(buffer, &at, row->name);
    info->Type.MiniFilter.FilterAltitudeLength = bytes_of(row->altitude);
    info->Type.MiniFilter.FilterAltitudeBufferOffset = put(buffer, &at, row->altitude);
  } else {
    info->Type.LegacyFilter.Flags = 0;
    info->Type.LegacyFilter.FilterNameLength = bytes_of(row->name);
    info->Type.LegacyFilter.FilterNameBufferOffset = put(buffer, &at, row->name);
    info->Type.LegacyFilter.FilterAltitudeLength = bytes_of(row->altitude);
    info->Type.LegacyFilter.FilterAltitudeBufferOffset = put(buffer, &at, row->altitude);
  }
  return S_OK;
}

static HRESULT fill_instance(const InstanceRow *row, LPVOID buffer, DWORD size, LPDWORD returned) {
  static const wchar_t *filter = L"FltBridge";
  ULONG base = sizeof(INSTANCE_FULL_INFORMATION);
  ULONG need = base + bytes_of(row->name) + bytes_of(row->altitude) + bytes_of(row->volume) +
               bytes_of(filter);
  if (returned) *returned = need;
  if (!buffer || size < need) return HR_WIN32(ERROR_INSUFFICIENT_BUFFER);
  memset(buffer, 0, need);
  INSTANCE_FULL_INFORMATION *info = buffer;
  ULONG at = base;
  info->NextEntryOffset = 0;
  info->InstanceNameLength = bytes_of(row->name);
  info->InstanceNameBufferOffset = put(buffer, &at, row->name);
  info->AltitudeLength = bytes_of(row->altitude);
  info->AltitudeBufferOffset = put(buffer, &at, row->altitude);
  info->VolumeNameLength = bytes_of(row->volume);
  info->VolumeNameBufferOffset = put(buffer, &at, row->volume);
  info->FilterNameLength = bytes_of(filter);
  info->FilterNameBufferOffset = put(buffer, &at, filter);
  return S_OK;
}

/* The next row of `find` into the buffer; advances only when it fitted. */
static HRESULT next_row(Find *find, LPVOID buffer, DWORD size, LPDWORD returned) {
  size_t rows = find->instances ? COUNT(INSTANCES) : COUNT(FILTERS);
  if (find->next >= rows) return HR_WIN32(ERROR_NO_MORE_ITEMS);
  HRESULT hr = find->instances ? fill_instance(&INSTANCES[find->next], buffer, size, returned)
                               : fill_filter(&FILTERS[find->next], buffer, size, returned);
  if (SUCCEEDED(hr)) find->next++;
  return hr;
}

static HRESULT first(int instances, LPVOID buffer, DWORD size, LPDWORD returned, LPHANDLE out) {
  if (!out) return E_INVALIDARG;
  *out = INVALID_HANDLE_VALUE;
  Find *find = calloc(1, sizeof(Find));
  if (!find) return E_OUTOFMEMORY;
  find->instances = instances;
  HRESULT hr = next_row(find, buffer, size, returned);
  if (FAILED(hr)) {
    free(find);
    return hr;
  }
  *out = (HANDLE)find;
  return S_OK;
}

HRESULT WINAPI FilterFindFirst(FILTER_INFORMATION_CLASS klass, LPVOID buffer, DWORD size,
                               LPDWORD returned, LPHANDLE find) {
  if (klass != FilterAggregateStandardInformation) return E_INVALIDARG;
  return first(0, buffer, size, returned, find);
}

HRESULT WINAPI FilterFindNext(HANDLE find, FILTER_INFORMATION_CLASS klass, LPVOID buffer,
                              DWORD size, LPDWORD returned) {
  if (!find || find == INVALID_HANDLE_VALUE || klass != FilterAggregateStandardInformation)
    return E_INVALIDARG;
  return next_row((Find *)find, buffer, size, returned);
}

HRESULT WINAPI FilterFindClose(HANDLE find) {
  if (!find || find == INVALID_HANDLE_VALUE) return E_INVALIDARG;
  free(find);
  return S_OK;
}

HRESULT WINAPI FilterInstanceFindFirst(LPCWSTR filter, INSTANCE_INFORMATION_CLASS klass,
                                       LPVOID buffer, DWORD size, LPDWORD returned,
                                       LPHANDLE find) {
  if (!filter || klass != InstanceFullInformation) return E_INVALIDARG;
  if (_wcsicmp(filter, L"FltBridge") != 0) return HR_FLT_FILTER_NOT_FOUND;
  return first(1, buffer, size, returned, find);
}

HRESULT WINAPI FilterInstanceFindNext(HANDLE find, INSTANCE_INFORMATION_CLASS klass,
                                      LPVOID buffer, DWORD size, LPDWORD returned) {
  if (!find || find == INVALID_HANDLE_VALUE || klass != InstanceFullInformation)
    return E_INVALIDARG;
  return next_row((Find *)find, buffer, size, returned);
}

HRESULT WINAPI FilterInstanceFindClose(HANDLE find) { return FilterFindClose(find); }

HRESULT WINAPI FilterGetDosName(LPCWSTR volume, LPWSTR dos, DWORD chars) {
  if (!volume || !dos) return E_INVALIDARG;
  if (_wcsicmp(volume, L"\\Device\\HarddiskVolume3") != 0) return HR_WIN32(ERROR_FILE_NOT_FOUND);
  if (chars < 3) return HR_WIN32(ERROR_INSUFFICIENT_BUFFER);
  wcscpy(dos, L"C:");
  return S_OK;
}

HRESULT WINAPI FilterLoad(LPCWSTR name) {
  if (!name) return HR_WIN32(ERROR_INVALID_PARAMETER);
  char text[32];
  DWORD n = GetEnvironmentVariableA("FLTBRIDGE_DOUBLE_LOAD_HR", text, sizeof text);
  if (n == 0 || n >= sizeof text) return S_OK;
  return (HRESULT)strtoul(text, NULL, 16);
}

HRESULT WINAPI FilterUnload(LPCWSTR name) {
  return name ? S_OK : HR_WIN32(ERROR_INVALID_PARAMETER);
}

HRESULT WINAPI FilterConnectCommunicationPort(LPCWSTR name, DWORD options, LPCVOID context,
                                              WORD context_size, LPSECURITY_ATTRIBUTES security,
                                              HANDLE *port) {
  (void)name;
  (void)options;
  (void)context;
  (void)context_size;
  (void)security;
  if (port) *port = INVALID_HANDLE_VALUE;
  return E_NOTIMPL;
}
