//! Seed files: any bytes, as a `.txt`, `.md` and `.html` file in a seeds folder, become an entry
//! or are skipped with a warning, never a panic, and the folder's other files are read as ever.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let seeds = dir.path().join("seeds");
    std::fs::create_dir(&seeds).unwrap();
    for name in ["fuzz.txt", "fuzz.md", "fuzz.html"] {
        std::fs::write(seeds.join(name), data).unwrap();
    }
    std::fs::write(
        seeds.join("well.txt"),
        "title: Well\n\nA well-formed seed.\n",
    )
    .unwrap();
    let config =
        tributary::Config::parse(&dir.path().join("config.yaml"), "seeds:\n  dir: seeds\n")
            .unwrap();
    let settings = config.seeds.expect("a seeds folder");
    let entries = tributary::seeds::read_folder(&settings).expect("the folder is readable");
    assert!(
        entries.iter().any(|entry| entry.title == "Well"),
        "the well-formed seed is read beside the others"
    );
});
