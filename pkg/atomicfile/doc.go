// Package atomicfile replaces a file's contents so that a reader, or a crash,
// sees either the old file or the new one, never a part of either.
//
// Use it where a half-written file would be worse than none:
//
//	if err := atomicfile.Write("release.yaml", out); err != nil {
//		return err // release.yaml is as it was
//	}
//
// Write's file must exist (its permission bits are kept) and be a regular
// file: resolve a symlink first (filepath.EvalSymlinks) so the link stays a
// link. Create writes a file that may not exist yet (an output: a summary),
// and CheckWritable says beforehand whether it could.
package atomicfile
