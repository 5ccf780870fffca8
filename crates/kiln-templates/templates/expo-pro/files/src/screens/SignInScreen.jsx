import { useState } from 'react';
import { ActivityIndicator, Pressable, ScrollView, Text, TextInput } from 'react-native';
import { DEMO_USER } from '../api';
import { useAuth } from '../auth';
import { kiln } from '../kiln';
import { styles, useColors } from '../theme';

/** The only screen reachable while signed out. */
export default function SignInScreen() {
  const colors = useColors();
  const { status, error, signIn } = useAuth();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const busy = status === 'signingIn';
  const input = [styles.input, { color: colors.fg, borderColor: colors.border, backgroundColor: colors.card }];

  return (
    <ScrollView style={{ backgroundColor: colors.bg }} contentContainerStyle={styles.page}>
      <Text role="heading" aria-level={1} style={[styles.title, { color: colors.fg }]}>
        {kiln.title}
      </Text>
      <Text style={[styles.text, { color: colors.muted }]}>Sign in to continue.</Text>
      <TextInput
        accessibilityLabel="Email"
        placeholder="Email"
        placeholderTextColor={colors.muted}
        autoCapitalize="none"
        autoComplete="email"
        keyboardType="email-address"
        value={email}
        onChangeText={setEmail}
        editable={!busy}
        style={input}
      />
      <TextInput
        accessibilityLabel="Password"
        placeholder="Password"
        placeholderTextColor={colors.muted}
        secureTextEntry
        autoComplete="current-password"
        value={password}
        onChangeText={setPassword}
        onSubmitEditing={() => signIn(email, password)}
        editable={!busy}
        style={input}
      />
      {error ? (
        <Text role="alert" style={[styles.text, { color: colors.danger }]}>
          {error}
        </Text>
      ) : null}
      <Pressable
        role="button"
        aria-label="Sign in"
        disabled={busy}
        onPress={() => signIn(email, password)}
        style={[styles.button, { backgroundColor: colors.accent, opacity: busy ? 0.6 : 1 }]}
      >
        {busy ? <ActivityIndicator color="#ffffff" /> : <Text style={styles.buttonText}>Sign in</Text>}
      </Pressable>
      <Text style={[styles.text, { color: colors.muted }]}>
        Demo account: {DEMO_USER.email} / {DEMO_USER.password}
      </Text>
    </ScrollView>
  );
}
