using System.Reflection;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Quantization.MLNet.Persistence;

/// <summary>
/// The one place that reaches into ML.NET's internal persistence types, tested on each Microsoft.ML release in
/// <see cref="SupportedVersions"/>.
/// </summary>
/// <remarks>
/// ML.NET offers no public way for an outside transformer to save state (dotnet/machinelearning #4911,
/// #6839): <c>ModelSaveContext</c> has no public members; <c>ModelLoadContext</c>, <c>VersionInfo</c> and
/// <c>LoadableClassAttribute</c> are internal. The public route (<c>CustomMappingFactory</c> plus
/// <c>ComponentCatalog.RegisterAssembly</c>) reloads a mapping by contract name only, with no state, so it
/// cannot bring back trained weights. This bridge therefore uses reflection to
/// (1) write a version header and our payload through <c>ModelSaveContext</c>,
/// (2) read them back through <c>ModelLoadContext</c>, and
/// (3) add a loadable class for our loader signature to a <see cref="ComponentCatalog"/>, and
/// (4) reach the environment behind a trainer catalog, so that our trainers log through <c>mlContext.Log</c>.
/// Every member is resolved once, up front; if ML.NET's version is not one this bridge was tested on, or any
/// member differs, the first use throws a <see cref="NotSupportedException"/> naming what changed, rather than
/// failing later. Models saved under one supported version load under the other (the fixtures under
/// test/.../Fixtures, loaded by both CI legs).
/// </remarks>
internal static class MLNetPersistenceInterop
{
    /// <summary>The Microsoft.ML releases this bridge is tested on (.ci/run runs the persistence tests on each).</summary>
    public static IReadOnlyList<string> SupportedVersions { get; } = ["5.0.1", "6.0.0"];

    /// <summary>The Microsoft.ML release running in this process (its informational version, without the commit).</summary>
    public static string RunningVersion { get; } = ReadRunningVersion();

    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    private static readonly Lazy<Members> Resolved = new(Members.Resolve);

    /// <summary>Throws unless the running ML.NET is a supported version with every member this bridge uses.</summary>
    public static void EnsureSupported() => _ = Resolved.Value;

    /// <summary>Writes the version header and then <paramref name="payload"/> as this model's data.</summary>
    public static void Save(ModelSaveContext context, string modelSignature, uint version, string loaderSignature, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(context);
        var m = Resolved.Value;
        m.SaveCheckAtModel.Invoke(context, null);
        object versionInfo = m.VersionInfoConstructor.Invoke(new object?[]
        {
            modelSignature, version, version, version, typeof(MLNetPersistenceInterop).Assembly.FullName, loaderSignature, null,
        });
        m.SetVersionInfo.Invoke(context, new[] { versionInfo });
        var writer = (BinaryWriter)m.SaveWriter.GetValue(context)!;
        writer.Write(payload.Length);
        writer.Write(payload);
    }

    /// <summary>Checks the header of the model being loaded and returns its payload.</summary>
    /// <param name="loadContext">The <c>ModelLoadContext</c> ML.NET passed to the loader.</param>
    /// <param name="modelSignature">The 8-character signature the model must carry.</param>
    /// <param name="version">The format version this code reads.</param>
    /// <param name="loaderSignature">The loader signature written at save time.</param>
    /// <param name="maxLength">Largest payload accepted, checked before allocating.</param>
    public static byte[] ReadPayload(object loadContext, string modelSignature, uint version, string loaderSignature, int maxLength)
    {
        var m = Resolved.Value;
        if (loadContext is null || loadContext.GetType() != m.LoadContextType)
            throw new ArgumentException($"Expected an ML.NET ModelLoadContext, got {loadContext?.GetType().FullName ?? "null"}.", nameof(loadContext));
        object versionInfo = m.VersionInfoConstructor.Invoke(new object?[]
        {
            modelSignature, version, version, version, typeof(MLNetPersistenceInterop).Assembly.FullName, loaderSignature, null,
        });
        try
        {
            m.LoadCheckAtModel.Invoke(loadContext, new[] { versionInfo });
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw new InvalidDataException($"The model's header does not match {loaderSignature} version {version}: {e.InnerException.Message}", e.InnerException);
        }
        var reader = (BinaryReader)m.LoadReader.GetValue(loadContext)!;
        int length;
        try
        {
            length = reader.ReadInt32();
            if (length < 0 || length > maxLength)
                throw new InvalidDataException($"The {loaderSignature} payload declares {length} bytes; the limit is {maxLength}.");
            long remaining = reader.BaseStream.Length - reader.BaseStream.Position;
            if (length > remaining)
                throw new InvalidDataException($"The {loaderSignature} payload declares {length} bytes but only {remaining} remain: the model file is truncated.");
            return reader.ReadBytes(length);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"The {loaderSignature} payload ends early: the model file is truncated.", e);
        }
    }

    /// <summary>
    /// Adds a loadable class to <paramref name="catalog"/> so that a model whose header names
    /// <paramref name="loaderSignature"/> is created by <paramref name="create"/>, a static method
    /// <c>(IHostEnvironment env, object modelLoadContext)</c> returning <paramref name="instanceType"/>.
    /// Registering the same signature twice is a no-op.
    /// </summary>
    public static void RegisterLoader(ComponentCatalog catalog, string loaderSignature, Type instanceType, MethodInfo create)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var m = Resolved.Value;
        var parameters = create.GetParameters();
        if (!create.IsStatic || parameters.Length != 2 || parameters[0].ParameterType != typeof(IHostEnvironment) || parameters[1].ParameterType != typeof(object))
            throw new ArgumentException("The loader must be static (IHostEnvironment, object).", nameof(create));
        // LoadableClassAttribute(Type instType, Type loaderType, Type argType, Type[] sigTypes, string userName, params string[] loadNames)
        object attribute = m.LoadableClassAttributeConstructor.Invoke(new object?[]
        {
            instanceType, create.DeclaringType!, null, new[] { m.SignatureLoadModel }, loaderSignature, new[] { loaderSignature },
        });
        // LoadableClassInfo(LoadableClassAttributeBase attr, MethodInfo getter, ConstructorInfo ctor, MethodInfo create, bool requireEnvironment)
        object info = m.LoadableClassInfoConstructor.Invoke(new object?[] { attribute, null, null, create, true });
        m.AddClass.Invoke(catalog, new object[] { info, new[] { loaderSignature }, false });
    }

    /// <summary>The <see cref="IHostEnvironment"/> behind an ML.NET catalog (for logging through <c>mlContext.Log</c>).</summary>
    public static IHostEnvironment EnvironmentOf(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return (IHostEnvironment)Resolved.Value.CatalogEnvironment.GetValue(catalog)!;
    }

    /// <summary>Throws a <see cref="NotSupportedException"/> naming the supported releases unless <paramref name="version"/> is one.</summary>
    internal static void EnsureSupportedVersion(string version)
    {
        if (!SupportedVersions.Contains(version))
            throw new NotSupportedException($"MLQuant model persistence supports Microsoft.ML {string.Join(" and ", SupportedVersions)}; this process runs {version}. Reference one of those versions of Microsoft.ML.");
    }

    private static string ReadRunningVersion()
    {
        string? informational = typeof(ModelSaveContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return informational is null ? "unknown" : informational.Split('+')[0];
    }

    private sealed record Members(
        MethodInfo SaveCheckAtModel,
        MethodInfo SetVersionInfo,
        FieldInfo SaveWriter,
        ConstructorInfo VersionInfoConstructor,
        Type LoadContextType,
        MethodInfo LoadCheckAtModel,
        FieldInfo LoadReader,
        Type SignatureLoadModel,
        ConstructorInfo LoadableClassAttributeConstructor,
        ConstructorInfo LoadableClassInfoConstructor,
        MethodInfo AddClass,
        PropertyInfo CatalogEnvironment)
    {
        public static Members Resolve()
        {
            var core = typeof(ModelSaveContext).Assembly;
            string found = RunningVersion;
            EnsureSupportedVersion(found);

            var missing = new List<string>();
            T Need<T>(T? member, string description) where T : class
            {
                if (member is null) missing.Add(description);
                return member!;
            }

            Type? versionInfo = core.GetType("Microsoft.ML.VersionInfo");
            Type? loadContext = core.GetType("Microsoft.ML.ModelLoadContext");
            Type? signature = core.GetType("Microsoft.ML.SignatureLoadModel");
            Type? attribute = core.GetType("Microsoft.ML.LoadableClassAttribute");
            Type? attributeBase = core.GetType("Microsoft.ML.LoadableClassAttributeBase");
            Type? classInfo = typeof(ComponentCatalog).GetNestedType("LoadableClassInfo", BindingFlags.NonPublic);
            Type? internalCatalog = typeof(MLContext).Assembly.GetType("Microsoft.ML.Data.IInternalCatalog");
            var members = new Members(
                Need(typeof(ModelSaveContext).GetMethod("CheckAtModel", Instance, Type.EmptyTypes), "ModelSaveContext.CheckAtModel()"),
                Need(versionInfo is null ? null : typeof(ModelSaveContext).GetMethod("SetVersionInfo", Instance, new[] { versionInfo }), "ModelSaveContext.SetVersionInfo(VersionInfo)"),
                Need(typeof(ModelSaveContext).GetField("Writer", Instance), "ModelSaveContext.Writer"),
                Need(versionInfo?.GetConstructor(Instance, new[] { typeof(string), typeof(uint), typeof(uint), typeof(uint), typeof(string), typeof(string), typeof(string) }), "VersionInfo(string, uint, uint, uint, string, string, string)"),
                Need(loadContext, "ModelLoadContext"),
                Need(versionInfo is null ? null : loadContext?.GetMethod("CheckAtModel", Instance, new[] { versionInfo }), "ModelLoadContext.CheckAtModel(VersionInfo)"),
                Need(loadContext?.GetField("Reader", Instance), "ModelLoadContext.Reader"),
                Need(signature, "SignatureLoadModel"),
                Need(attribute?.GetConstructor(Instance, new[] { typeof(Type), typeof(Type), typeof(Type), typeof(Type[]), typeof(string), typeof(string[]) }), "LoadableClassAttribute(Type, Type, Type, Type[], string, string[])"),
                Need(attributeBase is null ? null : classInfo?.GetConstructor(Instance, new[] { attributeBase, typeof(MethodInfo), typeof(ConstructorInfo), typeof(MethodInfo), typeof(bool) }), "ComponentCatalog.LoadableClassInfo(...)"),
                Need(classInfo is null ? null : typeof(ComponentCatalog).GetMethod("AddClass", Instance, new[] { classInfo, typeof(string[]), typeof(bool) }), "ComponentCatalog.AddClass(LoadableClassInfo, string[], bool)"),
                Need(internalCatalog?.GetProperty("Environment"), "IInternalCatalog.Environment"));
            if (missing.Count > 0)
                throw new NotSupportedException($"Microsoft.ML {found} lacks members MLQuant persistence needs: {string.Join(", ", missing)}.");
            return members;
        }
    }
}
