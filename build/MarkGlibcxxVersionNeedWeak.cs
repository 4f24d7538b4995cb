// Inline MSBuild task (see TorchSharpGlibcxxFix.targets). It parses just enough of an ELF64
// little-endian file to find the SHT_GNU_verneed section and OR VER_FLG_WEAK into one Vernaux entry.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class MarkGlibcxxVersionNeedWeak : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    private static readonly string[] HostLibstdcxxPaths =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    };

    [Required] public string Directory { get; set; } = "";
    [Required] public string VersionName { get; set; } = "";
    [Output] public int Patched { get; set; }

    public override bool Execute()
    {
        if (!System.IO.Directory.Exists(Directory)) return true;
        if (HostHasVersion())
        {
            Log.LogMessage(MessageImportance.Low, $"Host libstdc++ provides {VersionName}; nothing to patch.");
            return true;
        }
        foreach (string path in System.IO.Directory.EnumerateFiles(Directory, "libLibTorchSharp.so", SearchOption.AllDirectories))
        {
            string result = MarkWeak(path, VersionName);
            if (result == "patched") Patched++;
            Log.LogMessage(MessageImportance.Normal, $"{path}: {VersionName} need {result}.");
            if (result.StartsWith("error", StringComparison.Ordinal))
            {
                Log.LogError($"{path}: {result}");
                return false;
            }
        }
        return true;
    }

    private bool HostHasVersion()
    {
        byte[] needle = Encoding.ASCII.GetBytes(VersionName + "\0");
        foreach (string lib in HostLibstdcxxPaths)
        {
            if (File.Exists(lib) && IndexOf(File.ReadAllBytes(lib), needle) >= 0) return true;
        }
        return false;
    }

    /// <summary>Returns "patched", "already weak", "not needed" or "error: ...".</summary>
    public static string MarkWeak(string path, string versionName)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            return "error: not an ELF file";
        if (elf[4] != 2 || elf[5] != 1) return "error: only ELF64 little-endian is supported";

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            long sh = checked((long)shoff + (long)i * shentsize);
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(elf, (int)sh + 0x28);
            long strtab = (long)BitConverter.ToUInt64(elf, checked((int)((long)shoff + (long)link * shentsize + 0x18)));
            return PatchVerneed(elf, path, offset, strtab, versionName);
        }
        return "not needed";
    }

    private static string PatchVerneed(byte[] elf, string path, long verneed, long strtab, string versionName)
    {
        long need = verneed;
        while (true)
        {
            int count = BitConverter.ToUInt16(elf, (int)need + 2);
            long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
            for (int j = 0; j < count; j++)
            {
                long name = strtab + BitConverter.ToUInt32(elf, (int)aux + 8);
                if (ReadCString(elf, name) == versionName)
                {
                    int flagsAt = (int)aux + 4;
                    ushort flags = BitConverter.ToUInt16(elf, flagsAt);
                    if ((flags & VerFlgWeak) != 0) return "already weak";
                    flags |= VerFlgWeak;
                    using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
                    stream.Position = flagsAt;
                    stream.Write(BitConverter.GetBytes(flags), 0, 2);
                    return "patched";
                }
                uint nextAux = BitConverter.ToUInt32(elf, (int)aux + 12);
                if (nextAux == 0) break;
                aux += nextAux;
            }
            uint next = BitConverter.ToUInt32(elf, (int)need + 12);
            if (next == 0) return "not needed";
            need += next;
        }
    }

    private static string ReadCString(byte[] data, long at)
    {
        int end = (int)at;
        while (end < data.Length && data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, (int)at, end - (int)at);
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int k = 0;
            while (k < needle.Length && haystack[i + k] == needle[k]) k++;
            if (k == needle.Length) return i;
        }
        return -1;
    }
}
