// ESLint 9 flat config: typescript-eslint's type-checked rule sets over every TypeScript file
// the project compiles (src, test, scripts). Formatting is Prettier's job (`prettier --check`
// in `npm run lint`); neither set below contains formatting rules, so no eslint-config-prettier.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-web/', 'docs/', 'node_modules/', 'models/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Config files, Hugging Face configs, kernel attrs and process.env are records whose keys
      // may be absent; bracket access says so, and `noUncheckedIndexedAccess` types it.
      '@typescript-eslint/dot-notation': ['error', { allowIndexSignaturePropertyAccess: true }],
      // Shapes are number arrays and messages print them as `[${shape}]` -> "[2,64,768]".
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowArray: true },
      ],
      // A leading underscore marks a deliberately unused name: an interface parameter, or a
      // field dropped by destructuring (`const { timeMs: _timeMs, ...rest } = report`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // Tests read the JSON the CLI prints (JSON.parse is `any`) and check every value they use
    // with expect(), which fails at run time if the shape is wrong; declaring a type for it
    // would be a cast that adds no safety. Source and scripts keep these rules.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript configs (this file, .dependency-cruiser.cjs) are not in tsconfig.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
);
