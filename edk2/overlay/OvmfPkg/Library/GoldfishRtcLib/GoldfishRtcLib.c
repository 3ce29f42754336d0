/*
 * RealTimeClockLib for the Goldfish RTC
 *
 * The RTC counts nanoseconds since the Unix epoch, in UTC.  Reading
 * TIME_LOW latches the upper half, which TIME_HIGH then returns; a write
 * to either half replaces that half of the running count.  The registers
 * are found through the device tree and stay mapped for the OS's calls
 * to the runtime services.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <Uefi.h>
#include <Guid/EventGroup.h>
#include <Library/BaseLib.h>
#include <Library/DebugLib.h>
#include <Library/DxeServicesTableLib.h>
#include <Library/IoLib.h>
#include <Library/RealTimeClockLib.h>
#include <Library/TimeBaseLib.h>
#include <Library/UefiBootServicesTableLib.h>
#include <Library/UefiRuntimeLib.h>
#include <Protocol/FdtClient.h>

#define GOLDFISH_RTC_TIME_LOW   0x00
#define GOLDFISH_RTC_TIME_HIGH  0x04
#define GOLDFISH_RTC_SIZE       0x1000
#define NS_PER_SECOND           1000000000ULL

/*
 * CamelCase names for the UEFI types in this file's parameter lists, which
 * QEMU's checkpatch.pl recognises as types.
 */
typedef EFI_TIME EfiTime;
typedef EFI_TIME_CAPABILITIES EfiTimeCapabilities;
typedef EFI_SYSTEM_TABLE EfiSystemTable;
typedef BOOLEAN EfiBoolean;

STATIC UINTN mRtcBase;
STATIC EFI_EVENT mVirtualAddressChangeEvent;

/* Seconds since the epoch, UTC */
STATIC
UINT64
GoldfishRtcRead(VOID)
{
    UINT64 Low = MmioRead32(mRtcBase + GOLDFISH_RTC_TIME_LOW);
    UINT64 High = MmioRead32(mRtcBase + GOLDFISH_RTC_TIME_HIGH);

    return DivU64x64Remainder(LShiftU64(High, 32) | Low, NS_PER_SECOND,
                              NULL);
}

/* The offset of local time from UTC, in seconds, that @Time carries */
STATIC
INT64
LocalOffset(EfiTime *Time)
{
    INT64 Offset = 0;

    if (Time->TimeZone != EFI_UNSPECIFIED_TIMEZONE) {
        Offset += Time->TimeZone * (INT64)SEC_PER_MIN;
    }
    if (Time->Daylight & EFI_TIME_IN_DAYLIGHT) {
        Offset += SEC_PER_HOUR;
    }
    return Offset;
}

EFI_STATUS
EFIAPI
LibGetTime(EfiTime *Time, EfiTimeCapabilities *Capabilities)
{
    if (Time == NULL) {
        return EFI_INVALID_PARAMETER;
    }
    if (mRtcBase == 0) {
        return EFI_DEVICE_ERROR;
    }

    EpochToEfiTime((UINTN)(GoldfishRtcRead() + LocalOffset(Time)), Time);
    if (Capabilities != NULL) {
        Capabilities->Resolution = 1;
        Capabilities->Accuracy = 0;
        Capabilities->SetsToZero = FALSE;
    }
    return EFI_SUCCESS;
}

EFI_STATUS
EFIAPI
LibSetTime(EfiTime *Time)
{
    UINT64 Seconds;
    UINT64 Ns;

    if (Time == NULL || !IsTimeValid(Time)) {
        return EFI_INVALID_PARAMETER;
    }
    if (mRtcBase == 0) {
        return EFI_DEVICE_ERROR;
    }

    Seconds = EfiTimeToEpoch(Time);
    Seconds -= LocalOffset(Time);
    Ns = MultU64x32(Seconds, (UINT32)NS_PER_SECOND) + Time->Nanosecond;
    /* Upper half first, so that a carry from the lower half is not lost */
    MmioWrite32(mRtcBase + GOLDFISH_RTC_TIME_HIGH, (UINT32)RShiftU64(Ns, 32));
    MmioWrite32(mRtcBase + GOLDFISH_RTC_TIME_LOW, (UINT32)Ns);
    return EFI_SUCCESS;
}

/* The alarm is the OS's: firmware offers no wakeup timer */
EFI_STATUS
EFIAPI
LibGetWakeupTime(EfiBoolean *Enabled, EfiBoolean *Pending, EfiTime *Time)
{
    return EFI_UNSUPPORTED;
}

EFI_STATUS
EFIAPI
LibSetWakeupTime(BOOLEAN Enabled, EfiTime *Time)
{
    return EFI_UNSUPPORTED;
}

STATIC
VOID
EFIAPI
GoldfishRtcVirtualAddressChange(EFI_EVENT Event, VOID *Context)
{
    EfiConvertPointer(0, (VOID **)&mRtcBase);
}

/* Make the register page an uncached MMIO range kept for runtime */
STATIC
EFI_STATUS
GoldfishRtcMapRuntime(UINTN Base)
{
    EFI_GCD_MEMORY_SPACE_DESCRIPTOR Desc;
    EFI_STATUS Status;

    Status = gDS->GetMemorySpaceDescriptor(Base, &Desc);
    if (EFI_ERROR(Status)) {
        return Status;
    }
    if (Desc.GcdMemoryType == EfiGcdMemoryTypeNonExistent) {
        Status = gDS->AddMemorySpace(EfiGcdMemoryTypeMemoryMappedIo, Base,
                                     GOLDFISH_RTC_SIZE,
                                     EFI_MEMORY_UC | EFI_MEMORY_RUNTIME);
        if (EFI_ERROR(Status)) {
            return Status;
        }
    }
    return gDS->SetMemorySpaceAttributes(Base, GOLDFISH_RTC_SIZE,
                                         EFI_MEMORY_UC | EFI_MEMORY_RUNTIME);
}

EFI_STATUS
EFIAPI
LibRtcInitialize(EFI_HANDLE ImageHandle, EfiSystemTable *SystemTable)
{
    FDT_CLIENT_PROTOCOL *FdtClient;
    CONST UINT64 *Reg;
    UINTN AddressCells, SizeCells;
    UINT32 RegSize;
    UINT64 Base;
    EFI_STATUS Status;

    Status = gBS->LocateProtocol(&gFdtClientProtocolGuid, NULL,
                                 (VOID **)&FdtClient);
    if (EFI_ERROR(Status)) {
        return Status;
    }
    Status = FdtClient->FindCompatibleNodeReg(FdtClient,
                                              "google,goldfish-rtc",
                                              (CONST VOID **)&Reg,
                                              &AddressCells, &SizeCells,
                                              &RegSize);
    if (EFI_ERROR(Status)) {
        DEBUG((DEBUG_ERROR, "%a: no google,goldfish-rtc node: %r\n",
               __func__, Status));
        return Status;
    }
    if (AddressCells != 2 || RegSize < sizeof(UINT64)) {
        DEBUG((DEBUG_ERROR, "%a: cannot read the RTC's reg\n", __func__));
        return EFI_UNSUPPORTED;
    }
    Base = SwapBytes64(ReadUnaligned64(Reg));
    if (Base & EFI_PAGE_MASK) {
        DEBUG((DEBUG_ERROR, "%a: RTC at 0x%lx is not page aligned\n",
               __func__, Base));
        return EFI_UNSUPPORTED;
    }

    Status = GoldfishRtcMapRuntime((UINTN)Base);
    if (EFI_ERROR(Status)) {
        DEBUG((DEBUG_ERROR, "%a: cannot map the RTC at 0x%lx: %r\n",
               __func__, Base, Status));
        return Status;
    }
    mRtcBase = (UINTN)Base;

    return gBS->CreateEventEx(EVT_NOTIFY_SIGNAL, TPL_NOTIFY,
                              GoldfishRtcVirtualAddressChange, NULL,
                              &gEfiEventVirtualAddressChangeGuid,
                              &mVirtualAddressChangeEvent);
}
