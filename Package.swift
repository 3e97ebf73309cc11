// swift-tools-version:6.0
import PackageDescription
import Foundation

// The non-BLAS kernels (SIMD softmax, layer norms, GELU, RoPE, interpolation) compile for AVX2 + FMA when the machine
// building them has both: packages build from source where they run, and the 128-bit baseline leaves half of each
// vector unit idle (encoder CPU time −4% measured). A machine without them gets the baseline x86-64 build.
let cpuInfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
let vectorFlags: [SwiftSetting] = cpuInfo.contains(" avx2") && cpuInfo.contains(" fma")
    ? [.unsafeFlags(["-target-cpu", "haswell"])] : []

let package = Package(
    name: "SAM2Workbench",
    products: [
        .executable(name: "workbench", targets: ["WorkbenchCLI"]),
        .library(name: "SAM2", targets: ["SAM2"]),
        .library(name: "Workbench", targets: ["Workbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CEdit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        .target(name: "CKernels"),
        .target(name: "SAM2", dependencies: ["COpenBLAS", "CPNG", "CTurboJPEG", "CKernels"], swiftSettings: vectorFlags),
        .target(name: "Workbench", dependencies: ["SAM2", "CLua", "CEdit"]),
        .executableTarget(
            name: "WorkbenchCLI",
            dependencies: ["SAM2", "Workbench", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "SAM2Tests", dependencies: ["SAM2"], exclude: ["Fixtures"]),
        .testTarget(name: "WorkbenchTests", dependencies: ["Workbench", "SAM2"]),
    ],
    swiftLanguageModes: [.v5]
)
