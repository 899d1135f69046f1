"""Writing fixture files the same way from every generator: atomically, compact, newline-terminated."""
import json
import os


def write_json(path, value):
    """Write `value` as compact JSON to `path` through a temporary file, so a failed run leaves the old file."""
    with open(path + '.tmp', 'w') as f:
        json.dump(value, f, separators=(',', ':'))
        f.write('\n')
    os.replace(path + '.tmp', path)
    print(f'wrote {os.path.basename(path)} ({os.path.getsize(path)} bytes)')
