//! `--record FILE`: the inputs a run's model took, one JSON object a line,
//! and their replay through a model (which gives the run's events again).

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::event::Event;
use crate::model::Input;
use crate::model::pipeline::{Pipeline, Recorder};

/// The inputs a run's model took, in the order it took them, one JSON object
/// a line (`--record FILE`): replayed through a model they give the same
/// events again. Tests keep such recordings as fixtures.
struct Recording {
    out: io::BufWriter<std::fs::File>,
    error: Option<io::Error>,
}

impl Recorder for Recording {
    fn record(&mut self, input: &Input) {
        if self.error.is_some() {
            return;
        }
        let r = serde_json::to_writer(&mut self.out, input)
            .map_err(io::Error::other)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        let flushed = self.out.flush();
        self.error.take().map_or(flushed, Err)
    }
}

/// A pipeline that also records what its model takes (`--record`).
///
/// # Errors
/// The file cannot be created.
pub fn pipeline(record: Option<&Path>) -> Result<Pipeline> {
    let recorder: Option<Box<dyn Recorder>> = match record {
        Some(p) => Some(Box::new(Recording {
            out: io::BufWriter::new(
                std::fs::File::create(p)
                    .with_context(|| format!("cannot create {}", p.display()))?,
            ),
            error: None,
        })),
        None => None,
    };
    Ok(Pipeline::recording(recorder))
}

/// Flushes the pipeline's recording, if any.
///
/// # Errors
/// Writing it failed (at any point of the run).
pub fn close_recording(pipeline: &mut Pipeline, record: Option<&Path>) -> Result<()> {
    pipeline.finish_recording().with_context(|| {
        format!(
            "writing {}",
            record.map_or_else(|| "the recording".into(), |p| p.display().to_string())
        )
    })
}

/// Replays a recording through a model: the events the run showed.
///
/// # Errors
/// The file cannot be read, or a line is not an input (with its number).
pub fn replay(path: &Path) -> Result<Vec<Event>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut inputs = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let input: Input = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a recorded input", path.display(), i + 1))?;
        inputs.push(input);
    }
    Ok(crate::model::pipeline::replay(inputs))
}
