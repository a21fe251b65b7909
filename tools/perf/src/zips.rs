//! Deployment zip sizes, as `tools/package.sh` left them in `target/lambda/<function>/`.

use std::collections::BTreeMap;
use std::path::Path;

/// Bytes of each function's `bootstrap.zip`; `None` where it has not been built.
pub fn zip_sizes<'a>(
    lambda_dir: &Path,
    functions: impl IntoIterator<Item = &'a String>,
) -> BTreeMap<String, Option<u64>> {
    functions
        .into_iter()
        .map(|function| {
            let zip = lambda_dir.join(function).join("bootstrap.zip");
            (
                function.clone(),
                std::fs::metadata(zip).ok().map(|m| m.len()),
            )
        })
        .collect()
}

/// The architecture `tools/package.sh` built the zips for (it writes it beside them).
pub fn zip_architecture(lambda_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(lambda_dir.join("architecture")).ok()?;
    let architecture = text.trim();
    (!architecture.is_empty()).then(|| architecture.to_owned())
}
