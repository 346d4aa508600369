//! Evaluating a `gpu:` step against an inventory, and describing what was seen.

use super::{GpuInventory, GpuSnapshot, GpuUnavailable, UnavailableKind};
use crate::exec::check::{check_measure, check_number, check_text, check_version};
use crate::exec::probe::{ProbeEnv, ProbeOutcome};
use crate::model::matcher::Unit;
use crate::model::probe::fields::Measure;
use crate::model::probe::{GPU_DRIVER_INFO, GpuField, GpuProbe};
use crate::model::quantity::HumanBytes;
use crate::record::{CheckResult, Observation};
use std::collections::BTreeMap;

const NOT_REPORTED: &str = "not reported by this GPU";

pub(crate) fn run(probe: &GpuProbe, env: &ProbeEnv) -> ProbeOutcome {
    match env.gpu.inventory() {
        Ok(inventory) => evaluate(probe, &inventory),
        Err(err) => unavailable(probe, &err),
    }
}

/// No inventory: a failed "NVML" check, or a skip when the step allows a machine without a
/// driver. `require: false` excuses only a missing driver: a version mismatch, a lost GPU or a
/// broken inventory file mean something is wrong on a machine that should have a GPU.
fn unavailable(probe: &GpuProbe, err: &GpuUnavailable) -> ProbeOutcome {
    if !probe.require && err.kind == UnavailableKind::NoDriver {
        let mut outcome = ProbeOutcome::skipped(err.message.clone());
        outcome.observed.push(err.message.clone());
        return outcome;
    }
    // Built by hand so the message is the reason itself, not "NVML: NVML unavailable: …".
    let check = CheckResult {
        expected: "NVML answers".into(),
        actual: err.message.clone(),
        passed: false,
        message: err.message.clone(),
    };
    ProbeOutcome::done(vec![check], vec![err.message.clone()])
}

fn evaluate(probe: &GpuProbe, inventory: &GpuInventory) -> ProbeOutcome {
    let mut checks = system_checks(probe, inventory);
    match selected_gpus(probe, inventory) {
        Ok(gpus) => {
            let named = probe.index.is_some() || inventory.gpus.len() > 1;
            for gpu in gpus {
                checks.extend(gpu_checks(probe, gpu, named));
            }
        }
        Err(check) => checks.push(check),
    }
    if checks.is_empty() {
        // `gpu: {}` asks only that NVML answers; say so rather than pass with nothing shown.
        checks.push(CheckResult {
            expected: "NVML answers".into(),
            actual: summary(inventory),
            passed: true,
            message: format!("NVML answers: {}", summary(inventory)),
        });
    }
    ProbeOutcome::done(checks, observed(inventory)).with_values(values(inventory))
}

/// The numbers for metrics: the GPU count and driver, then each GPU's readings of every field
/// with a gauge, whether or not the step asked about it.
fn values(inventory: &GpuInventory) -> Vec<Observation> {
    let cuda = inventory.cuda_version.as_deref().unwrap_or("");
    let count = GpuField::Count.gauge().map(|g| Observation::new(g.name, inventory.gpus.len() as f64, &[]));
    let mut out: Vec<Observation> = count.into_iter().collect();
    let versions = [("driver_version", inventory.driver_version.as_str()), ("cuda_version", cuda)];
    out.push(Observation::new(GPU_DRIVER_INFO.name, 1.0, &versions));
    for gpu in &inventory.gpus {
        let index = gpu.index.to_string();
        let labels = [("gpu", index.as_str()), ("name", gpu.name.as_str())];
        out.extend(
            GpuField::ALL
                .iter()
                .filter(|f| !f.is_system())
                .filter_map(|&field| Some(Observation::new(field.gauge()?.name, gpu_reading(field, gpu)?, &labels))),
        );
    }
    out
}

/// One GPU's number for a numeric per-GPU field; `None` for text fields and what it does not
/// report.
fn gpu_reading(field: GpuField, gpu: &GpuSnapshot) -> Option<f64> {
    let bytes = |value: Option<u64>| value.map(|b| b as f64);
    match field {
        GpuField::MemoryTotal => bytes(gpu.memory_total),
        GpuField::MemoryFree => bytes(gpu.memory_free),
        GpuField::MemoryUsed => bytes(gpu.memory_used),
        GpuField::MemoryUsedPercent => used_percent(gpu),
        GpuField::UtilizationPercent => gpu.utilization_percent.map(f64::from),
        GpuField::TemperatureC => gpu.temperature_c.map(f64::from),
        GpuField::PowerW => gpu.power_w,
        GpuField::Count
        | GpuField::DriverVersion
        | GpuField::CudaVersion
        | GpuField::Name
        | GpuField::ComputeCapability => None,
    }
}

/// The checks on the machine as a whole: GPU count, driver and CUDA versions.
fn system_checks(probe: &GpuProbe, inventory: &GpuInventory) -> Vec<CheckResult> {
    probe
        .measures()
        .iter()
        .filter_map(|m| {
            Some(match m.field {
                GpuField::Count => check_measure(m, inventory.gpus.len() as f64),
                GpuField::DriverVersion => check_version(m.label, m.matcher, &inventory.driver_version),
                GpuField::CudaVersion => match &inventory.cuda_version {
                    Some(cuda) => check_version(m.label, m.matcher, cuda),
                    None => not_reported(m.label, m, why_missing(&inventory.unreadable, "cuda_version")),
                },
                _ => return None,
            })
        })
        .collect()
}

/// The GPUs the per-GPU fields apply to: GPU `index`, or all of them. A failed check when
/// `index` names no GPU, or when per-GPU fields would otherwise pass for want of any GPU.
fn selected_gpus<'a>(probe: &GpuProbe, inventory: &'a GpuInventory) -> Result<Vec<&'a GpuSnapshot>, CheckResult> {
    if let Some(index) = probe.index {
        return match inventory.gpus.iter().find(|gpu| gpu.index == index) {
            Some(gpu) => Ok(vec![gpu]),
            None => Err(CheckResult::failed(
                &format!("GPU {index}"),
                "present".into(),
                format!("no such GPU: NVML reports {}", gpu_count_words(inventory)),
            )),
        };
    }
    let per_gpu = probe.measures().iter().any(|m| !m.field.is_system());
    if inventory.gpus.is_empty() && probe.count.is_none() && per_gpu {
        return Err(CheckResult::new("GPU count", "≥ 1 (the per-GPU checks need a GPU)".into(), "0".into(), false));
    }
    Ok(inventory.gpus.iter().collect())
}

/// Every per-GPU expectation for one GPU; labels start with `GPU n` when `named`.
fn gpu_checks(probe: &GpuProbe, gpu: &GpuSnapshot, named: bool) -> Vec<CheckResult> {
    let mut checks = Vec::new();
    for m in probe.measures().iter().filter(|m| !m.field.is_system()) {
        let label = if named { format!("GPU {} {}", gpu.index, m.label) } else { m.label.to_string() };
        let missing = |field: &str| not_reported(&label, m, why_missing(&gpu.unreadable, field));
        let number = |seen: Option<f64>, field: &str| match seen {
            Some(seen) => check_number(&label, m.matcher, seen, m.unit),
            None => missing(field),
        };
        match m.field {
            GpuField::Name if gpu.name.is_empty() => checks.push(missing("name")),
            GpuField::Name => checks.extend(check_text(&label, m.matcher, &gpu.name)),
            GpuField::ComputeCapability => checks.push(match &gpu.compute_capability {
                Some(cc) => check_version(&label, m.matcher, cc),
                None => missing("compute_capability"),
            }),
            GpuField::MemoryTotal | GpuField::MemoryFree | GpuField::MemoryUsed | GpuField::MemoryUsedPercent => {
                checks.push(number(gpu_reading(m.field, gpu), "memory"))
            }
            GpuField::UtilizationPercent => checks.push(number(gpu_reading(m.field, gpu), "utilization")),
            GpuField::TemperatureC => checks.push(number(gpu_reading(m.field, gpu), "temperature")),
            GpuField::PowerW => checks.push(number(gpu_reading(m.field, gpu), "power")),
            GpuField::Count | GpuField::DriverVersion | GpuField::CudaVersion => {}
        }
    }
    checks
}

/// Used memory as a percentage of the total; unknown when either is, or the total is zero.
fn used_percent(gpu: &GpuSnapshot) -> Option<f64> {
    match (gpu.memory_used, gpu.memory_total) {
        (Some(used), Some(total)) if total > 0 => Some(used as f64 * 100.0 / total as f64),
        _ => None,
    }
}

fn not_reported(label: &str, measure: &Measure<'_, GpuField>, why: String) -> CheckResult {
    CheckResult::not_reported(label, measure.matcher.describe(measure.unit), &why)
}

/// "not reported by this GPU", with NVML's error when reading it failed for another reason.
fn why_missing(unreadable: &BTreeMap<String, String>, field: &str) -> String {
    match unreadable.get(field).or_else(|| unreadable.get("device")) {
        Some(err) => format!("{NOT_REPORTED} (NVML: {err})"),
        None => NOT_REPORTED.to_string(),
    }
}

fn gpu_count_words(inventory: &GpuInventory) -> String {
    match inventory.gpus.len() {
        0 => "no GPUs".to_string(),
        1 => "1 GPU".to_string(),
        n => format!("{n} GPUs"),
    }
}

// ---- what was seen ----

/// One summary line, then one line per GPU.
fn observed(inventory: &GpuInventory) -> Vec<String> {
    let mut lines = vec![summary(inventory)];
    lines.extend(inventory.gpus.iter().map(gpu_line));
    lines
}

/// `driver 575.57.08, CUDA 12.9, 2 GPUs`.
fn summary(inventory: &GpuInventory) -> String {
    let cuda = match (&inventory.cuda_version, inventory.unreadable.get("cuda_version")) {
        (Some(cuda), _) => format!("CUDA {cuda}"),
        (None, Some(err)) => format!("CUDA not reported ({err})"),
        (None, None) => "CUDA not reported".to_string(),
    };
    format!("driver {}, {cuda}, {}", inventory.driver_version, gpu_count_words(inventory))
}

/// `GPU 0: NVIDIA GeForce RTX 4090, CC 8.9, 23.0 GiB of 24.0 GiB used, 98% utilization, 71 °C, 350 W`;
/// values the GPU does not report are left out, values NVML failed to read are named at the end.
fn gpu_line(gpu: &GpuSnapshot) -> String {
    let name = if gpu.name.is_empty() { "unknown GPU" } else { &gpu.name };
    let mut parts = vec![format!("GPU {}: {name}", gpu.index)];
    if let Some(cc) = &gpu.compute_capability {
        parts.push(format!("CC {cc}"));
    }
    match (gpu.memory_used, gpu.memory_total) {
        (Some(used), Some(total)) => {
            parts.push(format!("{} of {} used", HumanBytes(used as f64), HumanBytes(total as f64)))
        }
        (None, Some(total)) => parts.push(format!("{} total", HumanBytes(total as f64))),
        _ => {}
    }
    if let Some(util) = gpu.utilization_percent {
        parts.push(format!("{util}% utilization"));
    }
    if let Some(temp) = gpu.temperature_c {
        parts.push(Unit::Celsius.format(f64::from(temp)));
    }
    if let Some(power) = gpu.power_w {
        parts.push(Unit::Watts.format(power));
    }
    if !gpu.unreadable.is_empty() {
        let errors: Vec<String> = gpu.unreadable.iter().map(|(field, err)| format!("{field}: {err}")).collect();
        parts.push(format!("unreadable: {}", errors.join("; ")));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::probe::ProbeStatus;
    use crate::exec::probe::gpu::GpuSource;
    use crate::exec::probe::gpu::nvml::cuda_version_string;
    use std::path::Path;
    use std::time::Duration;

    const GIB: u64 = 1 << 30;

    struct Fake(Result<GpuInventory, GpuUnavailable>);

    impl GpuSource for Fake {
        fn inventory(&self) -> Result<GpuInventory, GpuUnavailable> {
            self.0.clone()
        }
    }

    fn rtx4090(index: u32) -> GpuSnapshot {
        GpuSnapshot {
            index,
            name: "NVIDIA GeForce RTX 4090".into(),
            uuid: Some(format!("GPU-{index}")),
            memory_total: Some(24 * GIB),
            memory_used: Some(23 * GIB),
            memory_free: Some(GIB),
            utilization_percent: Some(98),
            temperature_c: Some(71),
            power_w: Some(350.0),
            compute_capability: Some("8.9".into()),
            unreadable: BTreeMap::new(),
        }
    }

    fn machine(gpus: Vec<GpuSnapshot>) -> GpuInventory {
        GpuInventory {
            driver_version: "575.57.08".into(),
            cuda_version: Some("12.9".into()),
            gpus,
            unreadable: BTreeMap::new(),
        }
    }

    fn probe(yaml: &str) -> GpuProbe {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn run_with(yaml: &str, source: Result<GpuInventory, GpuUnavailable>) -> ProbeOutcome {
        let fake = Fake(source);
        let env = ProbeEnv {
            cwd: Path::new("."),
            home: None,
            path: None,
            gpu: &fake,
            timeout: Duration::from_secs(5),
            sandbox: None,
        };
        run(&probe(yaml), &env)
    }

    fn messages(outcome: &ProbeOutcome) -> Vec<&str> {
        outcome.checks.iter().map(|c| c.message.as_str()).collect()
    }

    fn single(yaml: &str, inventory: GpuInventory) -> CheckResult {
        let outcome = run_with(yaml, Ok(inventory));
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert_eq!(outcome.checks.len(), 1, "{:?}", messages(&outcome));
        outcome.checks[0].clone()
    }

    #[test]
    fn readings_become_values_for_metrics() {
        let mut quiet = rtx4090(1);
        quiet.temperature_c = None;
        let outcome = run_with("{count: {ge: 1}}", Ok(machine(vec![rtx4090(0), quiet])));
        let value = |name: &str, gpu: Option<&str>| {
            outcome
                .values
                .iter()
                .find(|v| v.name == name && v.labels.get("gpu").map(String::as_str) == gpu)
                .map(|v| v.value)
        };
        assert_eq!(value("gpu_devices", None), Some(2.0));
        assert_eq!(value("gpu_utilization_percent", Some("0")), Some(98.0));
        assert_eq!(value("gpu_memory_used_bytes", Some("1")), Some((23 * GIB) as f64));
        assert_eq!(value("gpu_memory_total_bytes", Some("0")), Some((24 * GIB) as f64));
        assert_eq!(value("gpu_temperature_celsius", Some("0")), Some(71.0));
        assert_eq!(value("gpu_temperature_celsius", Some("1")), None, "not reported: no gauge");
        let driver = outcome.values.iter().find(|v| v.name == "gpu_driver_info").unwrap();
        assert_eq!(driver.labels["driver_version"], "575.57.08");
        assert!(run_with("{count: {ge: 1}}", Err(GpuUnavailable::no_driver("gone"))).values.is_empty());
    }

    #[test]
    fn every_field_passes_on_a_healthy_gpu() {
        let yaml = r#"{count: {ge: 1}, driver_version: {version: ">=570"}, cuda_version: {version: ">=12.8"},
            compute_capability: {version: ">=7.0"}, name: ["RTX"], memory_total: {ge: 20GiB},
            memory_used: {le: 23GiB}, memory_free: {gt: 512MiB}, memory_used_percent: {lt: 96},
            utilization_percent: {ge: 50}, temperature_c: {lt: 85}, power_w: {lt: 450}}"#;
        let outcome = run_with(yaml, Ok(machine(vec![rtx4090(0)])));
        assert!(outcome.passed(), "{:?}", messages(&outcome));
        assert_eq!(outcome.checks.len(), 12);
        let expected: Vec<&str> = outcome.checks.iter().map(|c| c.expected.as_str()).collect();
        assert_eq!(expected, crate::model::probe::Probe::Gpu(probe(yaml)).expectations(), "one declaration");
        assert_eq!(
            messages(&outcome),
            [
                "GPU count 1 (≥ 1)",
                "driver 575.57.08 (version >= 570)",
                "CUDA 12.9 (version >= 12.8)",
                "name line 1: NVIDIA GeForce RTX 4090 (has a line containing \"RTX\")",
                "compute capability 8.9 (version >= 7.0)",
                "memory total 24.0 GiB (≥ 20.0 GiB)",
                "memory free 1.0 GiB (> 512.0 MiB)",
                "memory used 23.0 GiB (≤ 23.0 GiB)",
                "memory used 95.83% (< 96%)",
                "utilization 98% (≥ 50%)",
                "temperature 71 °C (< 85 °C)",
                "power 350 W (< 450 W)",
            ]
        );
    }

    #[test]
    fn every_field_fails_with_expected_and_seen() {
        let inventory = || machine(vec![rtx4090(0)]);
        let cases = [
            ("{count: {ge: 2}}", "GPU count: expected ≥ 2, saw 1"),
            ("{driver_version: {version: \">=580\"}}", "driver: expected version >= 580, saw 575.57.08"),
            ("{cuda_version: {version: \">=13.0\"}}", "CUDA: expected version >= 13.0, saw 12.9"),
            ("{compute_capability: {version: \">=12.0\"}}", "compute capability: expected version >= 12.0, saw 8.9"),
            ("{name: \"NVIDIA H100\"}", "name: expected is \"NVIDIA H100\", saw \"NVIDIA GeForce RTX 4090\""),
            ("{memory_total: {ge: 48GiB}}", "memory total: expected ≥ 48.0 GiB, saw 24.0 GiB"),
            ("{memory_free: {ge: 4GiB}}", "memory free: expected ≥ 4.0 GiB, saw 1.0 GiB"),
            ("{memory_used: {lt: 20GiB}}", "memory used: expected < 20.0 GiB, saw 23.0 GiB"),
            ("{memory_used_percent: {lt: 90}}", "memory used: expected < 90%, saw 95.83%"),
            ("{utilization_percent: {lt: 50}}", "utilization: expected < 50%, saw 98%"),
            ("{temperature_c: {lt: 70}}", "temperature: expected < 70 °C, saw 71 °C"),
            ("{power_w: {le: 300}}", "power: expected ≤ 300 W, saw 350 W"),
        ];
        for (yaml, message) in cases {
            let check = single(yaml, inventory());
            assert!(!check.passed, "{yaml}");
            assert_eq!(check.message, message, "{yaml}");
        }
    }

    #[test]
    fn old_driver_message() {
        let mut inventory = machine(vec![rtx4090(0)]);
        inventory.driver_version = "550.120".into();
        let check = single("{driver_version: {version: \">=570\"}}", inventory);
        assert_eq!(check.message, "driver: expected version >= 570, saw 550.120");
        assert_eq!(check.expected, "driver version >= 570");
        assert_eq!(check.actual, "550.120");
    }

    #[test]
    fn compute_capability_compares_numerically() {
        let mut blackwell = rtx4090(0);
        blackwell.name = "NVIDIA GeForce RTX 5090".into();
        blackwell.compute_capability = Some("12.0".into());
        // Lexically "12.0" < "8.9"; numerically 12.0 is newer.
        let check = single("{compute_capability: {version: \">=8.9\"}}", machine(vec![blackwell]));
        assert!(check.passed, "{}", check.message);
        assert_eq!(check.message, "compute capability 12.0 (version >= 8.9)");
    }

    #[test]
    fn cuda_version_from_nvml_integer_is_checked_as_a_version() {
        let mut inventory = machine(vec![rtx4090(0)]);
        inventory.cuda_version = Some(cuda_version_string(12080));
        assert!(single("{cuda_version: {version: \">=12.8\"}}", inventory.clone()).passed);
        let check = single("{cuda_version: {version: \">=12.9\"}}", inventory);
        assert_eq!(check.message, "CUDA: expected version >= 12.9, saw 12.8");
    }

    #[test]
    fn several_gpus_are_named_in_labels() {
        let mut hot = rtx4090(1);
        hot.temperature_c = Some(91);
        let outcome = run_with("{temperature_c: {lt: 85}}", Ok(machine(vec![rtx4090(0), hot])));
        assert!(!outcome.passed());
        assert_eq!(
            messages(&outcome),
            ["GPU 0 temperature 71 °C (< 85 °C)", "GPU 1 temperature: expected < 85 °C, saw 91 °C"]
        );
        let used = run_with("{memory_used: {lt: 20GiB}}", Ok(machine(vec![rtx4090(0), rtx4090(1)])));
        assert_eq!(
            messages(&used),
            [
                "GPU 0 memory used: expected < 20.0 GiB, saw 23.0 GiB",
                "GPU 1 memory used: expected < 20.0 GiB, saw 23.0 GiB"
            ]
        );
    }

    #[test]
    fn index_selects_one_gpu() {
        let mut idle = rtx4090(1);
        idle.utilization_percent = Some(0);
        let inventory = machine(vec![rtx4090(0), idle]);
        let busy = single("{index: 0, utilization_percent: {ge: 50}}", inventory.clone());
        assert!(busy.passed);
        assert_eq!(busy.message, "GPU 0 utilization 98% (≥ 50%)");
        let check = single("{index: 1, utilization_percent: {ge: 50}}", inventory);
        assert_eq!(check.message, "GPU 1 utilization: expected ≥ 50%, saw 0%");
        // `index` names the GPU even on a one-GPU machine.
        let one = single("{index: 0, power_w: {lt: 400}}", machine(vec![rtx4090(0)]));
        assert_eq!(one.message, "GPU 0 power 350 W (< 400 W)");
    }

    #[test]
    fn index_out_of_range_fails() {
        let outcome = run_with("{index: 2, memory_used_percent: {lt: 90}}", Ok(machine(vec![rtx4090(0), rtx4090(1)])));
        assert!(!outcome.passed());
        assert_eq!(messages(&outcome), ["GPU 2: no such GPU: NVML reports 2 GPUs"]);
        // Even with no other field: `index` alone says that GPU exists.
        let bare = single("{index: 1}", machine(vec![rtx4090(0)]));
        assert!(!bare.passed);
        assert_eq!(bare.message, "GPU 1: no such GPU: NVML reports 1 GPU");
        let present = run_with("{index: 0}", Ok(machine(vec![rtx4090(0)])));
        assert!(present.passed());
    }

    #[test]
    fn unsupported_metrics_are_noted_not_failed() {
        let mut old = GpuSnapshot::unknown(0);
        old.name = "Tesla K80".into();
        old.memory_total = Some(12 * GIB);
        old.unreadable.insert("temperature".into(), "the current user does not have permission".into());
        let yaml = "{utilization_percent: {ge: 50}, power_w: {lt: 300}, temperature_c: {lt: 85},
            memory_used_percent: {lt: 90}, compute_capability: {version: \">=3.7\"}}";
        let mut inventory = machine(vec![old]);
        inventory.cuda_version = None;
        let outcome = run_with(yaml, Ok(inventory.clone()));
        assert!(outcome.passed(), "{:?}", messages(&outcome));
        assert_eq!(
            messages(&outcome),
            [
                "compute capability: not reported by this GPU",
                "memory used: not reported by this GPU",
                "utilization: not reported by this GPU",
                "temperature: not reported by this GPU (NVML: the current user does not have permission)",
                "power: not reported by this GPU",
            ]
        );
        assert_eq!(outcome.checks[2].expected, "utilization ≥ 50%");
        let cuda = single("{cuda_version: {version: \">=12.8\"}}", inventory);
        assert!(cuda.passed);
        assert_eq!(cuda.message, "CUDA: not reported by this GPU");
    }

    #[test]
    fn count_with_no_gpus() {
        let check = single("{count: {ge: 1}}", machine(vec![]));
        assert!(!check.passed);
        assert_eq!(check.message, "GPU count: expected ≥ 1, saw 0");
        // Per-GPU fields must not pass for want of a GPU.
        let check = single("{memory_used_percent: {lt: 90}}", machine(vec![]));
        assert!(!check.passed);
        assert_eq!(check.message, "GPU count: expected ≥ 1 (the per-GPU checks need a GPU), saw 0");
        // An explicit count is the user's word on how many GPUs are fine.
        assert!(run_with("{count: 0, memory_used_percent: {lt: 90}}", Ok(machine(vec![]))).passed());
    }

    #[test]
    fn empty_probe_reports_that_nvml_answers() {
        let check = single("{}", machine(vec![rtx4090(0), rtx4090(1)]));
        assert!(check.passed);
        assert_eq!(check.message, "NVML answers: driver 575.57.08, CUDA 12.9, 2 GPUs");
    }

    fn kinds() -> [GpuUnavailable; 4] {
        [
            GpuUnavailable::no_driver("libnvidia-ml.so.1: cannot open shared object file: No such file or directory"),
            GpuUnavailable::version_mismatch(),
            GpuUnavailable::gpu_lost("GPU 0 fell off the bus or is otherwise inaccessible"),
            GpuUnavailable::other("the current user does not have permission to perform this operation"),
        ]
    }

    #[test]
    fn unavailable_fails_when_required() {
        for err in kinds() {
            let outcome = run_with("{count: {ge: 1}}", Err(err.clone()));
            assert_eq!(outcome.status, ProbeStatus::Done);
            assert!(!outcome.passed());
            assert_eq!(outcome.checks.len(), 1);
            assert_eq!(outcome.checks[0].message, err.message);
            assert_eq!(outcome.checks[0].expected, "NVML answers");
            assert_eq!(outcome.observed, std::slice::from_ref(&err.message));
        }
        let no_driver = run_with("{}", Err(kinds()[0].clone()));
        assert_eq!(
            no_driver.checks[0].message,
            "NVML unavailable: no NVIDIA driver (libnvidia-ml.so.1: cannot open shared object file: No such file or directory)"
        );
        let mismatch = run_with("{}", Err(kinds()[1].clone()));
        assert_eq!(
            mismatch.checks[0].message,
            "NVML unavailable: driver/library version mismatch: reboot or reload the NVIDIA kernel modules"
        );
        let lost = run_with("{}", Err(kinds()[2].clone()));
        assert!(lost.checks[0].message.starts_with("GPU lost: GPU 0 fell off the bus"));
    }

    #[test]
    fn not_required_skips_only_without_a_driver() {
        let [no_driver, mismatch, lost, other] = kinds();
        let skipped = run_with("{count: {ge: 1}, require: false}", Err(no_driver.clone()));
        assert_eq!(skipped.status, ProbeStatus::Skipped(no_driver.message.clone()));
        assert!(skipped.checks.is_empty());
        assert!(no_driver.message.starts_with("NVML unavailable: no NVIDIA driver"));
        // A driver that is there but broken, or a lost GPU, is a fault even on optional steps.
        for err in [mismatch, lost, other] {
            let outcome = run_with("{count: {ge: 1}, require: false}", Err(err.clone()));
            assert_eq!(outcome.status, ProbeStatus::Done, "{}", err.message);
            assert!(!outcome.passed(), "{}", err.message);
            assert_eq!(outcome.checks[0].message, err.message);
        }
    }

    #[test]
    fn observed_lines() {
        let mut partial = GpuSnapshot::unknown(1);
        partial.name = "Tesla K80".into();
        partial.memory_total = Some(12 * GIB);
        partial.unreadable.insert("power".into(), "no permission".into());
        let outcome = run_with("{count: 2}", Ok(machine(vec![rtx4090(0), partial])));
        assert_eq!(
            outcome.observed,
            [
                "driver 575.57.08, CUDA 12.9, 2 GPUs",
                "GPU 0: NVIDIA GeForce RTX 4090, CC 8.9, 23.0 GiB of 24.0 GiB used, 98% utilization, 71 °C, 350 W",
                "GPU 1: Tesla K80, 12.0 GiB total, unreadable: power: no permission",
            ]
        );
        let mut no_cuda = machine(vec![GpuSnapshot::unknown(0)]);
        no_cuda.cuda_version = None;
        no_cuda.unreadable.insert("cuda_version".into(), "a shared library couldn't be found or loaded".into());
        assert_eq!(
            observed(&no_cuda),
            [
                "driver 575.57.08, CUDA not reported (a shared library couldn't be found or loaded), 1 GPU",
                "GPU 0: unknown GPU",
            ]
        );
    }
}
