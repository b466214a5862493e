#pragma once

// What Drover uses of the Windows Filtering Platform's management API
// (fwpuclnt.dll), as documented by Microsoft: mingw-w64 declares the types
// and functions but not the layers' and conditions' keys. Shared with the
// tests' double of fwpuclnt.dll (tests/windows/fake_fwpuclnt.cpp).

#include <winsock2.h>

#include <windows.h>

#include <fwpmu.h>

namespace drover::platform::wfp {

// FWPM_LAYER_ALE_AUTH_CONNECT_V4/V6: a socket's connect(), and its first
// datagram to each remote (outbound ALE flows).
inline constexpr GUID layer_connect_v4{
    0xc38d57d1,
    0x05a7,
    0x4c33,
    {0x90, 0x4f, 0x7f, 0xbc, 0xee, 0xe6, 0x0e, 0x82}};
inline constexpr GUID layer_connect_v6{
    0x4a72393b,
    0x319f,
    0x44bc,
    {0x84, 0xc3, 0xba, 0x54, 0xdc, 0xb3, 0xb6, 0xb4}};
// FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4/V6: an accepted connection, and the
// first datagram from each remote (inbound ALE flows).
inline constexpr GUID layer_recv_accept_v4{
    0xe1cd9fe7,
    0xf4b5,
    0x4273,
    {0x96, 0xc0, 0x59, 0x2e, 0x48, 0x7b, 0x86, 0x50}};
inline constexpr GUID layer_recv_accept_v6{
    0xa3b42c97,
    0x9f04,
    0x4672,
    {0xb8, 0x7e, 0xce, 0xe9, 0xc4, 0x83, 0x25, 0x7f}};
inline constexpr GUID ale_layers[]
    = {layer_connect_v4, layer_connect_v6, layer_recv_accept_v4,
       layer_recv_accept_v6};

// FWPM_CONDITION_ALE_APP_ID: the executable, as FwpmGetAppIdFromFileName0
// names it.
inline constexpr GUID condition_app_id{
    0xd78e1e87,
    0x8644,
    0x4ea5,
    {0x94, 0x37, 0xd8, 0x09, 0xec, 0xef, 0xc9, 0x71}};
// FWPM_CONDITION_FLAGS (FWP_CONDITION_FLAG_IS_LOOPBACK among them).
inline constexpr GUID condition_flags{
    0x632ce23b,
    0x5167,
    0x435c,
    {0x86, 0xd7, 0xe9, 0x03, 0x68, 0x4a, 0xa8, 0x0c}};

inline constexpr UINT32 session_dynamic
    = 0x00000001; // FWPM_SESSION_FLAG_DYNAMIC
// FWPM_FILTER_FLAG_PERSISTENT, FWPM_SUBLAYER_FLAG_PERSISTENT: kept over a
// restart of the computer (Drover's blocks are not).
inline constexpr UINT32 filter_persistent = 0x00000001;
inline constexpr UINT32 sublayer_persistent = 0x00000001;

using engine_open_fn
    = DWORD(WINAPI*)(const wchar_t*, UINT32, SEC_WINNT_AUTH_IDENTITY_W*,
                     const FWPM_SESSION0*, HANDLE*);
using engine_close_fn = DWORD(WINAPI*)(HANDLE);
using transaction_fn = DWORD(WINAPI*)(HANDLE);
using transaction_begin_fn = DWORD(WINAPI*)(HANDLE, UINT32);
using sublayer_add_fn
    = DWORD(WINAPI*)(HANDLE, const FWPM_SUBLAYER0*, PSECURITY_DESCRIPTOR);
using sublayer_delete_fn = DWORD(WINAPI*)(HANDLE, const GUID*);
using filter_add_fn = DWORD(WINAPI*)(HANDLE, const FWPM_FILTER0*,
                                     PSECURITY_DESCRIPTOR, UINT64*);
using filter_delete_fn = DWORD(WINAPI*)(HANDLE, UINT64);
using filter_enum_open_fn
    = DWORD(WINAPI*)(HANDLE, const FWPM_FILTER_ENUM_TEMPLATE0*, HANDLE*);
using filter_enum_fn
    = DWORD(WINAPI*)(HANDLE, HANDLE, UINT32, FWPM_FILTER0***, UINT32*);
using filter_enum_close_fn = DWORD(WINAPI*)(HANDLE, HANDLE);
using app_id_fn = DWORD(WINAPI*)(const wchar_t*, FWP_BYTE_BLOB**);
using free_memory_fn = void(WINAPI*)(void**);

inline bool same(const GUID& a, const GUID& b) {
  return IsEqualGUID(a, b) != 0;
}

} // namespace drover::platform::wfp
