/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    policy.c

Abstract:

    Managed and observed namespaces (CONFIGURE, fltbridge_proto.h): which
    streams the filter owns oplocks and byte-range locks for, and which it
    only watches.

    A namespace is an NT path of a directory or a file. A name is inside it
    when it equals it or continues it after a backslash, compared
    case-insensitively; when several contain a name, the longest wins.
    The installed policy is an immutable, reference-counted object: readers
    take a reference under a spin lock and classify without holding it;
    CONFIGURE swaps in a new object.

    Twin: src/model/filter/policy.ts.

Environment:

    Kernel mode. Classification at PASSIVE_LEVEL (pre-create).

--*/

#include "driver.h"

static KSPIN_LOCK FbPolicyLock;
static PFB_POLICY FbPolicyCurrent;

/*++

Routine Description:

    Takes a reference on the installed policy.

Arguments:

    None.

Return Value:

    The policy, or NULL when none is installed.

IRQL:

    <= DISPATCH_LEVEL.

--*/
static PFB_POLICY
FbPolicyAcquire(
    VOID
    )
{
    PFB_POLICY policy;
    KIRQL oldIrql;

    KeAcquireSpinLock(&FbPolicyLock, &oldIrql);
    policy = FbPolicyCurrent;
    if (policy != NULL) {
        InterlockedIncrement(&policy->RefCount);
    }
    KeReleaseSpinLock(&FbPolicyLock, oldIrql);

    return policy;
}

/*++

Routine Description:

    Drops a reference; the last one frees the policy.

Arguments:

    Policy - the policy.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbPolicyRelease(
    _In_ PFB_POLICY Policy
    )
{
    if (InterlockedDecrement(&Policy->RefCount) == 0) {
        FbFree(Policy, FB_TAG_POLICY);
    }
}

/*++

Routine Description:

    Starts with an empty policy: nothing managed, nothing observed.

Arguments:

    None.

Return Value:

    STATUS_SUCCESS or STATUS_INSUFFICIENT_RESOURCES.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbPolicyInitialize(
    VOID
    )
{
    PFB_POLICY empty;
    NTSTATUS status;

    KeInitializeSpinLock(&FbPolicyLock);
    FbPolicyCurrent = NULL;

    status = FbPolicyCreate(NULL, 0, &empty);
    if (NT_SUCCESS(status)) {
        FbPolicyInstall(empty);
    }

    return status;
}

_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbPolicyUninitialize(
    VOID
    )
/*++

Routine Description:

    Releases the installed policy at unload.

Arguments:

    None.

Return Value:

    None.

IRQL:

    PASSIVE_LEVEL.

--*/
{
    PFB_POLICY old;
    KIRQL oldIrql;

    KeAcquireSpinLock(&FbPolicyLock, &oldIrql);
    old = FbPolicyCurrent;
    FbPolicyCurrent = NULL;
    KeReleaseSpinLock(&FbPolicyLock, oldIrql);

    if (old != NULL) {
        FbPolicyRelease(old);
    }
}

/*++

Routine Description:

    Checks the text of one namespace: an NT path (starts with a backslash)
    without NUL characters. Trailing backslashes are dropped by the caller
    ("\\Device\\HarddiskVolume3\\" names the same directory as without).

Arguments:

    Name, Chars - the path.

Return Value:

    TRUE when acceptable.

IRQL:

    Any.

--*/
static BOOLEAN
FbPolicyNameValid(
    _In_reads_(Chars) const WCHAR *Name,
    _In_ ULONG Chars
    )
{
    ULONG index;

    if (Chars == 0 || Name[0] != L'\\') {
        return FALSE;
    }

    for (index = 0; index < Chars; index += 1) {
        if (Name[index] == 0) {
            return FALSE;
        }
    }

    return TRUE;
}

/*++

Routine Description:

    Builds a policy object from validated namespace entries (comm.c checked
    sizes, kinds and lengths). Refuses names that are not NT paths and one
    path both managed and observed (fltbridge_proto.h, CONFIGURE); the same
    path twice with the same kind counts once.

Arguments:

    Specs - Count entries (NULL when Count is 0).

    Count - 0 .. FLTB_MAX_NAMESPACES.

    Policy - receives the new object (reference count 1).

Return Value:

    STATUS_SUCCESS, STATUS_INVALID_PARAMETER or
    STATUS_INSUFFICIENT_RESOURCES.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbPolicyCreate(
    _In_reads_(Count) const FB_NAMESPACE_SPEC *Specs,
    _In_ ULONG Count,
    _Outptr_ PFB_POLICY *Policy
    )
{
    PFB_POLICY policy;
    SIZE_T bytes = sizeof(FB_POLICY);
    PWCH cursor;
    ULONG index;
    ULONG other;

    *Policy = NULL;

    if (Count > FLTB_MAX_NAMESPACES || (Count != 0 && Specs == NULL)) {
        return STATUS_INVALID_PARAMETER;
    }

    for (index = 0; index < Count; index += 1) {
        if ((Specs[index].Kind != FLTB_NAMESPACE_MANAGED && Specs[index].Kind != FLTB_NAMESPACE_OBSERVE) ||
            Specs[index].NameBytes == 0 || (Specs[index].NameBytes & 1u) != 0 ||
            Specs[index].NameBytes > FLTB_MAX_NAME_BYTES ||
            !FbPolicyNameValid(Specs[index].Name, Specs[index].NameBytes / sizeof(WCHAR))) {
            return STATUS_INVALID_PARAMETER;
        }
        bytes += Specs[index].NameBytes;
    }

    policy = (PFB_POLICY)FbAllocate(bytes, FB_TAG_POLICY);
    if (policy == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    policy->RefCount = 1;
    policy->Count = 0;
    cursor = (PWCH)(policy + 1);

    for (index = 0; index < Count; index += 1) {

        PFB_NAMESPACE entry = &policy->Entries[policy->Count];
        ULONG chars = Specs[index].NameBytes / sizeof(WCHAR);
        BOOLEAN duplicate = FALSE;
        ULONG c;

        while (chars > 1 && Specs[index].Name[chars - 1] == L'\\') {
            chars -= 1;
        }

        entry->Kind = Specs[index].Kind;
        entry->Chars = (USHORT)chars;
        entry->Upcased = cursor;
        for (c = 0; c < chars; c += 1) {
            cursor[c] = RtlUpcaseUnicodeChar(Specs[index].Name[c]);
        }
        cursor += chars;

        for (other = 0; other < policy->Count; other += 1) {
            PFB_NAMESPACE earlier = &policy->Entries[other];
            if (earlier->Chars == entry->Chars &&
                RtlCompareMemory(earlier->Upcased, entry->Upcased, chars * sizeof(WCHAR)) ==
                    chars * sizeof(WCHAR)) {
                if (earlier->Kind != entry->Kind) {
                    FbFree(policy, FB_TAG_POLICY);
                    return STATUS_INVALID_PARAMETER;
                }
                duplicate = TRUE;
            }
        }

        if (duplicate) {
            continue;
        }

        policy->Count += 1;
        if (entry->Kind == FLTB_NAMESPACE_MANAGED) {
            policy->ManagedCount += 1;
        } else {
            policy->ObserveCount += 1;
        }
    }

    *Policy = policy;
    return STATUS_SUCCESS;
}

/*++

Routine Description:

    Makes Policy the installed one (taking over the caller's reference) and
    releases the previous one. Streams opened afterwards see it.

Arguments:

    Policy - the new policy.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbPolicyInstall(
    _In_ PFB_POLICY Policy
    )
{
    PFB_POLICY old;
    KIRQL oldIrql;

    KeAcquireSpinLock(&FbPolicyLock, &oldIrql);
    old = FbPolicyCurrent;
    FbPolicyCurrent = Policy;
    KeReleaseSpinLock(&FbPolicyLock, oldIrql);

    if (old != NULL) {
        FbPolicyRelease(old);
    }
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbPolicyCounts(
    _Out_ PUSHORT Managed,
    _Out_ PUSHORT Observed
    )
/*++

Routine Description:

    Namespace counts of the installed policy (CONFIGURE reply).

Arguments:

    Managed, Observed - receive the counts.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
{
    PFB_POLICY policy = FbPolicyAcquire();

    *Managed = 0;
    *Observed = 0;
    if (policy != NULL) {
        *Managed = policy->ManagedCount;
        *Observed = policy->ObserveCount;
        FbPolicyRelease(policy);
    }
}

/*++

Routine Description:

    Does namespace Entry contain Name? Equal, or a prefix followed by a
    backslash; case-insensitive.

Arguments:

    Entry - the namespace (upcased).

    Name - the path.

Return Value:

    TRUE when it does.

IRQL:

    <= APC_LEVEL (RtlUpcaseUnicodeChar's documented limit); called from
    FbPolicyClassify at PASSIVE_LEVEL.

--*/
static BOOLEAN
FbNamespaceContains(
    _In_ const FB_NAMESPACE *Entry,
    _In_ PCUNICODE_STRING Name
    )
{
    ULONG chars = Name->Length / sizeof(WCHAR);
    ULONG index;

    if (chars < Entry->Chars) {
        return FALSE;
    }

    for (index = 0; index < Entry->Chars; index += 1) {
        if (RtlUpcaseUnicodeChar(Name->Buffer[index]) != Entry->Upcased[index]) {
            return FALSE;
        }
    }

    return (BOOLEAN)(chars == Entry->Chars || Name->Buffer[Entry->Chars] == L'\\' ||
                     (Entry->Chars == 1 && Entry->Upcased[0] == L'\\'));
}

/*++

Routine Description:

    Classifies a stream name: managed, observed or neither (longest
    containing namespace wins).

Arguments:

    Name - normalized NT path of the stream.

Return Value:

    FbClassManaged, FbClassObserved or FbClassNone.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
FB_CLASS
FbPolicyClassify(
    _In_ PCUNICODE_STRING Name
    )
{
    PFB_POLICY policy;
    FB_CLASS result = FbClassNone;
    USHORT best = 0;
    ULONG index;

    if (Name == NULL || Name->Buffer == NULL || Name->Length < sizeof(WCHAR)) {
        return FbClassNone;
    }

    policy = FbPolicyAcquire();
    if (policy == NULL) {
        return FbClassNone;
    }

    for (index = 0; index < policy->Count; index += 1) {
        const FB_NAMESPACE *entry = &policy->Entries[index];
        if (entry->Chars > best && FbNamespaceContains(entry, Name)) {
            best = entry->Chars;
            result = (entry->Kind == FLTB_NAMESPACE_MANAGED) ? FbClassManaged : FbClassObserved;
        }
    }

    FbPolicyRelease(policy);
    return result;
}
