/** Every message meant for a person in French then English, as the users work in both. */
export interface Text {
  fr: string;
  en: string;
}

export interface Steps {
  fr: string[];
  en: string[];
}
