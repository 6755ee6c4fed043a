/** The `hint:` lines shown when a command needs a key and got none. */
export function collectKeyHints(): string[] {
  return [
    'a key is raw-aes:file=PATH,namespace=NS,name=NAME',
    '      or raw-rsa:file=PEM,namespace=NS,name=NAME[,padding=oaep-sha256]',
  ];
}
