/** Where the CLI writes. run(argv, io) takes one so tests can capture both streams. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIo: CliIo = {
  stdout: (text) => {
    process.stdout.write(text);
  },
  stderr: (text) => {
    process.stderr.write(text);
  },
};

/** Every line a user sees on stderr starts with the program's name, so it stands out in a pipeline. */
export const ERROR_PREFIX = 'flopledger: ';
